"""``jdzhi keys``: licensee signing keys certified by the authority.

A key file is Ed25519 in encrypted PKCS#8 PEM, created 0600; jdzhi never overwrites one. Issuing
asks for two passphrases: the authority key's, then one for the new key (``--passphrase-file``
and ``--key-passphrase-file``; ``JDZHI_PASSPHRASE`` serves both in scripts).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from jdzhi._format.keys import key_json
from jdzhi.commands import _common as common

if TYPE_CHECKING:
    from jdzhi.trace.keys.certified import IssuedKey

app = typer.Typer(
    help="Licensee signing keys: issue, list, revoke and rotate them. Every key is certified "
         "by the authority key made at `jdzhi init`.",
    no_args_is_help=True,
)

OutOption = Annotated[Path, typer.Option(
    "--out", metavar="KEYFILE", dir_okay=False,
    help="Where to write the new private key (encrypted, mode 0600; never overwritten).",
)]
ValidUntilOption = Annotated[str | None, typer.Option(
    "--valid-until", metavar="DATE", help="Last day of the key's validity (default: 3 years).",
)]
__all__ = ["app"]

_STYLE = {"active": "green", "revoked": "red", "superseded": "yellow", "expired": "magenta",
          "pending": "cyan"}


_ROTATE_HELP = """Replace an enterprise's keys with a new one: the old keys stop signing now, and
everything they signed before stays genuine.

Example: jdzhi keys rotate JDZ-GI-2026-0001 --out qingyun-2027.key
"""


@app.command("rotate", help=_ROTATE_HELP)
@app.command("issue")
def issue(
    ctx: typer.Context,
    enterprise: Annotated[str, typer.Argument(help="Enterprise id, USCC or license number.")],
    out: OutOption,
    passphrase_file: common.PassphraseFileOption = None,
    key_passphrase_file: common.KeyPassphraseFileOption = None,
    valid_until: ValidUntilOption = None,
    as_json: common.JsonOption = False,
) -> None:
    """Issue a signing key to a licensed enterprise: the authority certifies it for the
    enterprise's current license.

    Example: jdzhi keys issue JDZ-GI-2026-0001 --out qingyun.key
    """
    # one function for both commands: `rotate` differs only in superseding the current keys
    from jdzhi.timeutil import parse_date
    from jdzhi.trace.keys.certified import issue_licensee_key

    until = parse_date(valid_until, what="--valid-until") if valid_until else None
    home = common.home_of(ctx)
    authority, new = common.new_key_passphrases(out, passphrase_file, key_passphrase_file)
    with common.registry_of(ctx) as db:
        issued = issue_licensee_key(home, db, enterprise, out=out, authority_passphrase=authority,
                                    key_passphrase=new, valid_until=until,
                                    rotate=ctx.info_name == "rotate")
    _render_issued(issued, as_json)


def _render_issued(issued: IssuedKey, as_json: bool) -> None:
    key = issued.key
    if as_json:
        common.emit_json({**key_json(key), "key_file": issued.key_path,
                          "superseded": list(issued.superseded)})
        return
    common.out.print(
        f"[green]Issued[/] key {key.key_id} for {escape(key.enterprise or '')} (license "
        f"{escape(key.license_no or '')}), valid {key.not_before:%Y-%m-%d} to "
        f"{key.not_after:%Y-%m-%d}; private key written to {escape(issued.key_path)} (0600)",
        highlight=False)
    if issued.superseded:
        common.out.print(f"Replaced {'key' if len(issued.superseded) == 1 else 'keys'} "
                         f"{', '.join(map(str, issued.superseded))}: what "
                         f"{'it' if len(issued.superseded) == 1 else 'they'} signed before "
                         "stays genuine", highlight=False)


@app.command("list")
def list_(ctx: typer.Context, as_json: common.JsonOption = False) -> None:
    """List every certified key (licensee and testing-center keys) with its status now."""
    from jdzhi.timeutil import utc_now
    from jdzhi.trace.keys.certified import list_keys

    with common.registry_of(ctx) as db:
        keys = list_keys(db)
    now = utc_now()
    if common.listing(as_json, keys, lambda key: key_json(key, now), none="No keys yet: issue "
                      "one with `jdzhi keys issue ENTERPRISE --out FILE`"):
        return
    table = common.result_table(common.plural(len(keys), "certified key"), ("id", "number"),
                                ("role", "whole"), ("holder", "fold"), ("license", "whole"),
                                ("valid", "fold"), ("status", "whole"))
    for key in keys:
        status = key.status_at(now)
        holder = key.enterprise if key.role == "licensee" else key.lab
        table.add_row(str(key.key_id), key.role, escape(holder or ""), key.license_no or "",
                      f"{key.not_before:%Y-%m-%d} to {key.not_after:%Y-%m-%d}",
                      f"[{_STYLE.get(status, 'white')}]{status}[/]")
    common.out.print(table)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: Annotated[int, typer.Argument(metavar="KEY_ID", min=1, max=common.ID_MAX,
                                          help="The key's id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")],
    effective: Annotated[str | None, typer.Option(
        "--effective", metavar="TIME",
        help="From when (ISO 8601 to the second, may lie in the past; no offset = UTC+08:00). "
             "Records signed from then on verify as revoked. Default: now.",
    )] = None,
    as_json: common.JsonOption = False,
) -> None:
    """Revoke a key, e.g. after a compromise found late: --effective 2026-03-01T08:00:00."""
    from jdzhi.timeutil import parse_time
    from jdzhi.trace.keys.certified import revoke_key

    moment = parse_time(effective, what="--effective") if effective else None
    with common.registry_of(ctx) as db:
        key = revoke_key(db, key_id, reason=reason, effective_at=moment)
    if as_json:
        common.emit_json(key_json(key))
    else:
        common.out.print(f"[red]Revoked[/] key {key.key_id} effective "
                         f"{key.ended_at:%Y-%m-%d %H:%M:%S} UTC: {escape(key.end_reason)}")
