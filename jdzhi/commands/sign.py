"""``jdzhi sign``: sign the product records of a CSV with a licensee key."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from jdzhi._format.records import sign_summary_json
from jdzhi.commands import _common as common
from jdzhi.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    from jdzhi.trace.signing.batch import SignSummary

__all__ = ["sign"]

_TrustOption = Annotated[Path | None, typer.Option(
    "--trust", metavar="FILE", dir_okay=False,
    help="Sign at a workshop, in a home with no registry: check the key and its license against "
         "this trust bundle from the service center (`jdzhi trust export`), as `jdzhi verify "
         "--trust` checks it, and keep the signed records in the home's workshop.db. In a home "
         "with a registry: check against the bundle, store in the registry.",
)]
_MaxAgeOption = Annotated[int | None, typer.Option(
    "--max-age", metavar="DAYS", min=0,
    help="Refuse a --trust bundle DAYS days after it was issued, if its own expiry is later. "
         "Default: the bundle's expiry.",
)]


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
        help="Label base URL. Default: $JDZHI_BASE_URL, else the base stored at `jdzhi init` "
             "(with --trust: the bundle's first base; a base the bundle does not list is "
             "refused).",
    )] = None,
    trust: _TrustOption = None,
    authority: common.AuthorityOption = None,
    max_age: _MaxAgeOption = None,
    witness: common.WitnessOption = None,
    passphrase_file: common.PassphraseFileOption = None,
    as_json: common.JsonOption = False,
) -> None:
    """Sign every record of a CSV with a licensee key, store them, and write SIGNED.jsonl.

    Every row is checked first (serial: 1-12 digits without a leading zero, unique for the
    enterprise; category covered by the license; license valid on the production date); one
    bad row stops everything with its row number, and nothing is signed or stored. Each line
    of SIGNED.jsonl has serial, record (the full COSE record, base64url) and label (the QR text).
    Records an earlier run signed are written out as stored, not signed again.

    Two ways to sign. At the service center, the home's registry vouches for the key and its
    license, and keeps the records. At a workshop's own kiln, with no registry, give the trust
    bundle the center publishes (--trust) and the authority's public key (--authority): the
    bundle must be signed by it and not older than one this home accepted before; the key must
    be certified in it and its license active now. The workshop's home keeps what it signed
    (serials stay unique, re-runs are safe) in workshop.db.

    Examples: jdzhi sign batch-0007.csv --key qingyun.key --out batch-0007.signed.jsonl;
    jdzhi sign batch-0007.csv --key qingyun.key --out batch-0007.signed.jsonl
    --trust trust.cbor --authority authority.pub
    """

    from jdzhi.trace.keys.keyfile import load_key, read_public_key
    from jdzhi.trace.signing.batch import BundleCheck, sign_in_home

    if out.exists():
        raise Conflict(f"{out} already exists; choose another name")
    if (authority or max_age is not None or witness) and trust is None:
        raise InvalidInput("--authority, --max-age and --witness apply to a --trust bundle; "
                           "give --trust FILE too")
    bundle = None if trust is None else BundleCheck(
        trust, read_public_key(authority) if authority else None, max_age, tuple(witness or ()))
    passphrase = common.read_passphrase(passphrase_file, confirm=False, what=f"key {key.name}")
    signing_key = load_key(key, passphrase)
    with common.progress_bar(quiet=as_json) as bar:
        task = bar.add_task("signing", total=None)
        summary = sign_in_home(common.home_of(ctx), records, key=signing_key, out=out,
                               bundle=bundle, base_url=base_url,
                               progress=lambda n: bar.advance(task, n), parallel=True)
    common.note_encoding(records, summary.source_encoding)
    common.warn(summary.warnings)
    if as_json:
        common.emit_json(sign_summary_json(summary))
        return
    _render(summary)


def _render(summary: SignSummary) -> None:
    new = summary.count - summary.already_signed
    done = (f"[green]Signed[/] {common.plural(new, 'record')}" if not summary.already_signed
            else f"{new} new, {summary.already_signed} already signed")
    where = "" if summary.stored_in == "registry" else "; kept in the home's workshop.db"
    common.out.print(
        f"{done} of {escape(summary.enterprise)} with key {summary.key_id} (license "
        f"{escape(summary.license_no)}) into {escape(summary.out)}{where}", highlight=False)
