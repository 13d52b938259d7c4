"""``jdzhi keys``: licensee signing keys certified by the authority.

A key file is Ed25519 in encrypted PKCS#8 PEM, created 0600; jdzhi never overwrites one. Issuing
asks for two passphrases: the authority key's, then one for the new key (``--passphrase-file``
and ``--key-passphrase-file``; in scripts ``JDZHI_PASSPHRASE`` and ``JDZHI_KEY_PASSPHRASE``: the
workshop is told its own passphrase, never the authority's).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from jdzhi.commands._common import (
    JsonOption,
    KeyPassphraseFileOption,
    PassphraseFileOption,
    emit_json,
    err_console,
    home_of,
    read_key_passphrase,
    read_passphrase,
    registry_of,
)

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
_STYLE = {"active": "green", "revoked": "red", "superseded": "yellow", "expired": "magenta",
          "pending": "cyan"}


def _issue(ctx: typer.Context, enterprise: str, out: Path, passphrase_file: Path | None,
           key_passphrase_file: Path | None, valid_until: str | None, as_json: bool,
           rotate: bool) -> None:
    from jdzhi.timeutil import parse_date
    from jdzhi.trace.keys.certified import issue_licensee_key
    from jdzhi.trace.keys.keyfile import check_new_key_path

    until = parse_date(valid_until, what="--valid-until") if valid_until else None
    home = home_of(ctx)
    check_new_key_path(out)  # before any prompt: an existing KEYFILE is refused either way
    authority = read_passphrase(passphrase_file, confirm=False, what="the authority key")
    new = read_key_passphrase(key_passphrase_file, what=f"the new key ({out.name})")
    with registry_of(ctx) as db:
        issued = issue_licensee_key(home, db, enterprise, out=out, authority_passphrase=authority,
                                    key_passphrase=new, valid_until=until, rotate=rotate)
    _render_issued(issued, as_json)


def _render_issued(issued: IssuedKey, as_json: bool) -> None:
    key = issued.key
    if as_json:
        emit_json({**key.to_json(), "key_file": issued.key_path,
                   "superseded": list(issued.superseded)})
        return
    err_console.print(
        f"[green]Issued[/] key {key.key_id} for {escape(key.enterprise or '')} (license "
        f"{escape(key.license_no or '')}), valid {key.not_before:%Y-%m-%d} to "
        f"{key.not_after:%Y-%m-%d}; private key written to {escape(issued.key_path)} (0600)"
    )
    if issued.superseded:
        err_console.print(f"Replaced key(s) {', '.join(map(str, issued.superseded))}: what they "
                          "signed before stays genuine")


@app.command("issue")
def issue(
    ctx: typer.Context,
    enterprise: Annotated[str, typer.Argument(help="Enterprise id, USCC or license number.")],
    out: OutOption,
    passphrase_file: PassphraseFileOption = None,
    key_passphrase_file: KeyPassphraseFileOption = None,
    valid_until: ValidUntilOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a signing key to a licensed enterprise: the authority certifies it for the
    enterprise's current license.

    Example: jdzhi keys issue JDZ-GI-2026-0001 --out qingyun.key
    """
    _issue(ctx, enterprise, out, passphrase_file, key_passphrase_file, valid_until, as_json,
           rotate=False)


@app.command("rotate")
def rotate(
    ctx: typer.Context,
    enterprise: Annotated[str, typer.Argument(help="Enterprise id, USCC or license number.")],
    out: OutOption,
    passphrase_file: PassphraseFileOption = None,
    key_passphrase_file: KeyPassphraseFileOption = None,
    valid_until: ValidUntilOption = None,
    as_json: JsonOption = False,
) -> None:
    """Replace an enterprise's keys with a new one: the old keys stop signing now, and
    everything they signed before stays genuine.

    Example: jdzhi keys rotate JDZ-GI-2026-0001 --out qingyun-2027.key
    """
    _issue(ctx, enterprise, out, passphrase_file, key_passphrase_file, valid_until, as_json,
           rotate=True)


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List every certified key (licensee and testing-center keys) with its status now."""
    from jdzhi.timeutil import utc_now
    from jdzhi.trace.keys.certified import list_keys

    with registry_of(ctx) as db:
        keys = list_keys(db)
    now = utc_now()
    if as_json:
        emit_json([key.to_json(now) for key in keys])
        return
    if not keys:
        err_console.print("No keys yet: issue one with `jdzhi keys issue ENTERPRISE --out FILE`")
        return
    table = Table(title=f"{len(keys)} certified keys")
    for column in ("id", "role", "holder", "license", "valid", "status"):
        table.add_column(column)
    for key in keys:
        status = key.status_at(now)
        holder = key.enterprise if key.role == "licensee" else key.lab
        table.add_row(str(key.key_id), key.role, escape(holder or ""), key.license_no or "",
                      f"{key.not_before:%Y-%m-%d} to {key.not_after:%Y-%m-%d}",
                      f"[{_STYLE.get(status, 'white')}]{status}[/]")
    err_console.print(table)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: Annotated[int, typer.Argument(metavar="KEY_ID", help="The key's id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")],
    effective: Annotated[str | None, typer.Option(
        "--effective", metavar="TIME",
        help="From when (ISO 8601 to the second, may lie in the past; no offset = UTC+08:00). "
             "Records signed from then on verify as revoked. Default: now.",
    )] = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a key, e.g. after a compromise found late: --effective 2026-03-01T08:00:00."""
    from jdzhi.timeutil import parse_time
    from jdzhi.trace.keys.certified import revoke_key

    moment = parse_time(effective, what="--effective") if effective else None
    with registry_of(ctx) as db:
        key = revoke_key(db, key_id, reason=reason, effective_at=moment)
    if as_json:
        emit_json(key.to_json())
    else:
        err_console.print(f"[red]Revoked[/] key {key.key_id} effective "
                          f"{key.ended_at:%Y-%m-%d %H:%M:%S} UTC: {escape(key.end_reason)}")
