"""``jdzhi sign`` and ``jdzhi verify``: signed product records and their verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from jdzhi.commands._common import (
    AuthorityOption,
    JsonOption,
    MaxAgeOption,
    PassphraseFileOption,
    VerifyTrustOption,
    emit_json,
    err_console,
    home_of,
    progress_bar,
    read_passphrase,
    registry_of,
)
from jdzhi.errors import Conflict, ExitCode, InvalidInput

if TYPE_CHECKING:
    from jdzhi.trace.verification.verifier import VerificationResult

_STYLE = {"genuine": "bold green", "tampered": "bold red", "unknown-key": "bold red",
          "revoked": "bold red", "suspended": "bold yellow", "expired": "bold magenta",
          "malformed": "bold red", "stale-trust": "bold yellow", "recalled": "bold red"}


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
    passphrase_file: PassphraseFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sign every record of a CSV with a licensee key, store them, and write SIGNED.jsonl.

    Every row is checked first (serial: 1-12 digits without a leading zero, unique for the
    enterprise; category covered by the license; license valid on the production date); one
    bad row stops everything with its row number, and nothing is signed or stored. Each line
    of SIGNED.jsonl has serial, record (the full COSE record, base64url) and label (the QR text).

    Example: jdzhi sign batch-0007.csv --key qingyun.key --out batch-0007.signed.jsonl
    """

    from jdzhi.trace.keys.keyfile import load_key
    from jdzhi.trace.signing.batch import sign_csv

    if out.exists():
        raise Conflict(f"{out} already exists; choose another name")
    passphrase = read_passphrase(passphrase_file, confirm=False, what=f"key {key.name}")
    signing_key = load_key(key, passphrase)
    with registry_of(ctx) as db, progress_bar(quiet=as_json) as bar:
        task = bar.add_task("signing", total=None)
        summary = sign_csv(db, records, key=signing_key, out=out, base_url=base_url,
                           progress=lambda n: bar.advance(task, n), parallel=True)
    if as_json:
        emit_json(summary.to_json())
    else:
        err_console.print(
            f"[green]Signed[/] {summary.count} records of {escape(summary.enterprise)} with key "
            f"{summary.key_id} (license {escape(summary.license_no)}) into {escape(summary.out)}"
        )


def _render(result: VerificationResult) -> None:
    style = _STYLE.get(str(result.verdict), "bold")
    who = f" — {escape(result.enterprise)}" if result.enterprise else ""
    err_console.print(f"[{style}]{str(result.verdict).upper()}[/] serial "
                      f"{escape(result.serial or '?')}{who}")
    for reason in result.reasons:
        err_console.print(f"  • {escape(reason)}")
    if result.endorsement.status != "none":
        err_console.print(f"  testing center: {result.endorsement.status} "
                          f"({escape(result.endorsement.lab or '')}, report "
                          f"{escape(result.endorsement.report_no or '')})")


def verify(
    ctx: typer.Context,
    value: Annotated[str, typer.Argument(
        metavar="INPUT", help="A label text (the QR's URL) or a SIGNED.jsonl file.",
    )],
    trust: VerifyTrustOption = None,
    authority: AuthorityOption = None,
    max_age: MaxAgeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Verify labels or signed records; exit 0 only when every one is genuine.

    Verdicts: genuine, tampered, unknown-key, revoked, suspended, expired, malformed,
    stale-trust (a good signature checked against an out-of-date --trust bundle), recalled (an
    item the registry recalled: `jdzhi recall`). A record
    signed while its license was valid stays genuine after a later revocation (a reason says
    so); one signed after the effective time of a revocation or suspension is not.

    Examples: jdzhi verify 'HTTPS://TRACE.EXAMPLE.CN/V/AE...' --json;
    jdzhi verify batch.signed.jsonl --trust trust.cbor --authority tFaokx...
    """
    from jdzhi.trace.keys.keyfile import read_public_key
    from jdzhi.trace.verification.verifier import load_trust, verify_input

    if authority and trust is None:
        raise InvalidInput("--authority pins the key of a --trust bundle; give --trust FILE too")
    pinned = read_public_key(authority) if authority else None
    home = home_of(ctx)
    trust_source = load_trust(home=home, bundle=trust, authority=pinned, max_age_days=max_age)
    for warning in trust_source.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}")
    with progress_bar(quiet=as_json) as bar:
        task = bar.add_task("verifying", total=None)
        results = verify_input(value, trust_source, progress=lambda n: bar.advance(task, n),
                               parallel=True)
    if as_json:
        emit_json([result.to_json() for result in results])
    else:
        for result in results[:50]:
            _render(result)
        if len(results) > 50:
            err_console.print(f"... and {len(results) - 50} more")
        counts: dict[str, int] = {}
        for result in results:
            counts[str(result.verdict)] = counts.get(str(result.verdict), 0) + 1
        err_console.print("Summary: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())))
    if not all(result.genuine for result in results):
        raise typer.Exit(int(ExitCode.CHECK_FAILED))
