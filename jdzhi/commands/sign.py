"""``jdzhi sign``: sign the product records of a CSV with a licensee key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from jdzhi.commands import _common as common
from jdzhi.errors import Conflict

__all__ = ["sign"]


def sign(
    ctx: typer.Context,
    records: Annotated[Path, typer.Argument(
        metavar="RECORDS.csv", dir_okay=False,
        help="CSV with columns serial, batch, category, production_date and optionally name, "
             "ware_class, report_no, work_reg_no.",
    )],
    key: Annotated[Path, typer.Option("--key", metavar="KEYFILE", dir_okay=False,
                                      help="The enterprise's key file from `jdzhi keys issue`.")],
    out: Annotated[Path, typer.Option("--out", metavar="SIGNED.jsonl", dir_okay=False,
                                      help="Where to write the signed records (never "
                                           "overwritten).")],
    base_url: Annotated[str | None, typer.Option(
        "--base-url",
        help="Label base URL. Default: $JDZHI_BASE_URL, else the base stored at `jdzhi init`.",
    )] = None,
    passphrase_file: common.PassphraseFileOption = None,
    as_json: common.JsonOption = False,
) -> None:
    """Sign every record of a CSV with a licensee key, store them, and write SIGNED.jsonl.

    Every row is checked first (serial: 1-12 digits without a leading zero, unique for the
    enterprise; category covered by the license; license valid on the production date); one
    bad row stops everything with its row number, and nothing is signed or stored. Each line
    of SIGNED.jsonl has serial, record (the full COSE record, base64url) and label (the QR text).
    Records an earlier run signed are written out as stored, not signed again.

    Example: jdzhi sign batch-0007.csv --key qingyun.key --out batch-0007.signed.jsonl
    """

    from jdzhi.trace.keys.keyfile import load_key
    from jdzhi.trace.signing.batch import sign_csv

    if out.exists():
        raise Conflict(f"{out} already exists; choose another name")
    passphrase = common.read_passphrase(passphrase_file, confirm=False, what=f"key {key.name}")
    signing_key = load_key(key, passphrase)
    with common.registry_of(ctx) as db, common.progress_bar(quiet=as_json) as bar:
        task = bar.add_task("signing", total=None)
        summary = sign_csv(db, records, key=signing_key, out=out, base_url=base_url,
                           progress=lambda n: bar.advance(task, n), parallel=True)
    common.note_encoding(records, summary.source_encoding)
    if as_json:
        common.emit_json(summary.to_json())
        return
    new = summary.count - summary.already_signed
    done = (f"[green]Signed[/] {common.plural(new, 'record')}" if not summary.already_signed
            else f"{new} new, {summary.already_signed} already signed")
    common.out.print(
        f"{done} of {escape(summary.enterprise)} with key {summary.key_id} (license "
        f"{escape(summary.license_no)}) into {escape(summary.out)}", highlight=False)
