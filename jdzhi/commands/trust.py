"""``jdzhi trust``: the authority-signed trust bundle for offline verifiers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from jdzhi._format.online import trust_published_json
from jdzhi.commands import _common as common
from jdzhi.errors import Conflict

__all__ = ["app"]

app = typer.Typer(help="The offline trust bundle: certified keys, enterprises, license "
                       "statuses and lab endorsements, signed by the authority.",
                  no_args_is_help=True)


@app.command("export")
def export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", metavar="FILE", dir_okay=False,
                                      help="Where to write the bundle (never overwritten).")],
    valid_days: Annotated[int, typer.Option(
        "--valid-days", help="Days until verifiers call the bundle stale.")] = 30,
    cosignature: Annotated[list[Path] | None, typer.Option(
        "--cosignature", metavar="FILE", dir_okay=False,
        help="A testing center's cosignature of the log checkpoint (`jdzhi lab witness`) to "
             "carry in the bundle; the log must not have changed since. Repeatable.")] = None,
    passphrase_file: common.PassphraseFileOption = None,
    as_json: common.JsonOption = False,
) -> None:
    """Sign a checkpoint of the registry's audit log and a snapshot of its trust for offline
    verification.

    Give verifiers the file and the authority public key this prints; then
    `jdzhi verify LABEL --trust FILE --authority KEY` needs no registry at all. Exit 8 when the
    audit log does not extend the checkpoint signed last (history cut or rewritten).

    Example: jdzhi trust export --out trust-2026-11.cbor
    """
    from jdzhi.timeutil import format_time
    from jdzhi.trace.formats.records import base64url
    from jdzhi.trace.trust.bundle import export_bundle

    if out.exists():
        raise Conflict(f"{out} already exists; choose another name")
    passphrase = common.read_passphrase(passphrase_file, confirm=False, what="the authority key")
    result = export_bundle(common.home_of(ctx), out, passphrase, valid_days=valid_days,
                           cosignatures=cosignature or ())
    if as_json:
        common.emit_json({"path": result.path, "bytes": result.size,
                          "issued_at": format_time(result.issued_at),
                          "expires_at": format_time(result.expires_at), "keys": result.keys,
                          "enterprises": result.enterprises, "endorsements": result.endorsements,
                          "authority_kid": result.authority_kid,
                          "authority_public_key": base64url(result.authority_public_key),
                          "log_origin": result.log_origin, "log_size": result.log_size})
        return
    common.out.print(
        f"[green]Wrote[/] {escape(result.path)} ({common.plural(result.size, 'byte')}: "
        f"{common.plural(result.keys, 'key')}, {common.plural(result.enterprises, 'enterprise')}, "
        f"{common.plural(result.endorsements, 'endorsement')}), valid until "
        f"{format_time(result.expires_at)}"
    )
    common.out.print(f"Authority public key: {base64url(result.authority_public_key)}")
    common.out.print(f"Log checkpoint: {escape(result.log_origin)}, "
                     f"{common.plural(result.log_size, 'entry', 'entries')}")


@app.command("publish")
def publish(
    bundle: Annotated[Path, typer.Argument(metavar="BUNDLE", dir_okay=False,
                                           help="A bundle made by `jdzhi trust export`.")],
    server: common.ServerOption,
    as_json: common.JsonOption = False,
) -> None:
    """Make a trust bundle the current one of the service center online (`jdzhi server`).

    Phones and verifiers then fetch it from the center. The center accepts only a bundle signed
    by its authority key (exit 8 if not), not expired (exit 3) and issued after its current one
    (exit 5); exit 11 when it cannot be reached.

    Example: jdzhi trust publish trust-2026-11.cbor --server https://trace.example.cn
    """
    from jdzhi.online.uploads import publish_trust

    assert server is not None  # a required option
    done = publish_trust(server, bundle)
    common.result(as_json, trust_published_json(done),
                  f"[green]Published[/] {escape(done.file)} on {escape(done.server)}: "
                  f"{common.plural(done.keys, 'key')}, "
                  f"{common.plural(done.enterprises, 'enterprise')}, "
                  f"{common.plural(done.endorsements, 'endorsement')}, issued "
                  f"{done.issued_at}, valid until {done.expires_at}")
