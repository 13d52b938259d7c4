"""``jdzhi verify``: the verdict on labels and signed records."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from jdzhi._format.verification import verification_json
from jdzhi.commands import _common as common
from jdzhi.commands import _verdicts
from jdzhi.errors import ExitCode, InvalidInput

if TYPE_CHECKING:
    from jdzhi.trace.trust.model import Trust
    from jdzhi.trace.verification.result import VerificationResult

__all__ = ["verify"]

#: the verdicts shown in full; the summary line counts every one
_SHOWN = 50
#: how image files start (JPEG, PNG, GIF, BMP, TIFF, WebP's RIFF): a photo given to `verify`
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM", b"II*\x00", b"MM\x00*", b"RIFF")


def verify(
    ctx: typer.Context,
    values: Annotated[list[str], typer.Argument(
        metavar="INPUT...", help="Label texts (the QR's URL) or SIGNED.jsonl files.",
    )],
    trust: common.VerifyTrustOption = None,
    authority: common.AuthorityOption = None,
    max_age: common.MaxAgeOption = None,
    witness: common.WitnessOption = None,
    as_json: common.JsonOption = False,
) -> None:
    """Verify labels or signed records; exit 0 only when every one is genuine.

    Verdicts: genuine, tampered, unknown-key, revoked, suspended, expired, malformed,
    stale-trust (a good signature checked against an out-of-date --trust bundle), recalled (an
    item the registry recalled: `jdzhi recall`). A record
    signed while its license was valid stays genuine after a later revocation (a reason says
    so); one signed after the effective time of a revocation or suspension is not. A typed label
    one character away from a valid one is called tampered with the hint "may be a typo".

    Examples: jdzhi verify 'HTTPS://TRACE.EXAMPLE.CN/V/AE...' --json;
    jdzhi verify batch.signed.jsonl --trust trust.cbor --authority tFaokx...
    """
    from jdzhi.trace.keys.keyfile import read_public_key
    from jdzhi.trace.verification.verifier import load_trust, verify_input

    if authority and trust is None:
        raise InvalidInput("--authority pins the key of a --trust bundle; give --trust FILE too")
    for value in values:
        _refuse_image(value)
    pinned = read_public_key(authority) if authority else None
    trust_source = load_trust(home=common.home_of(ctx), bundle=trust, authority=pinned,
                              max_age_days=max_age, witnesses=witness or ())
    common.warn(trust_source.warnings)
    with common.progress_bar(quiet=as_json) as bar:
        task = bar.add_task("verifying", total=None)
        verified = [(value, verify_input(value, trust_source,
                                         progress=lambda n: bar.advance(task, n), parallel=True))
                    for value in values]
    results = [result for _, found in verified for result in found]
    if as_json:
        common.emit_json([verification_json(result) for result in results])
    else:
        _render(verified, trust_source)
    if not all(result.genuine for result in results):
        raise typer.Exit(int(ExitCode.CHECK_FAILED))


def _refuse_image(value: str) -> None:
    """A photo of a label is for `jdzhi scan`: say so instead of "not UTF-8 text"."""
    if "://" in value:
        return
    try:
        with Path(value).open("rb") as file:
            start = file.read(8)
    except OSError:
        return  # not a readable file: verify_input names the problem
    if start.startswith(_IMAGE_MAGIC):
        raise InvalidInput(f"{value} is an image; read the labels in it with "
                           f"`jdzhi scan {value}`")


def _render(verified: list[tuple[str, list[VerificationResult]]], trust: Trust) -> None:
    shown = 0
    for value, results in verified:
        for result in results[:max(0, _SHOWN - shown)]:
            reasons = list(result.reasons)
            if "://" in value and result.verdict == "tampered":
                reasons += _typo_hint(value, trust)
            who = f" — {result.enterprise}" if result.enterprise else ""
            _verdicts.print_verdict(str(result.verdict).upper(), str(result.verdict),
                                    f"serial {result.serial or '?'}{who}", reasons,
                                    result.endorsement)
        shown += len(results)
    if shown > _SHOWN:
        common.out.print(f"... and {shown - _SHOWN} more")
    _verdicts.print_summary((str(result.verdict) for _, results in verified
                             for result in results), "record")


def _typo_hint(label: str, trust: Trust) -> list[str]:
    from jdzhi.trace.verification.typo import one_character_away

    fixed = one_character_away(label, trust)
    if fixed is None:
        return []
    where = next(i for i, (a, b) in enumerate(zip(label, fixed, strict=True)) if a != b)
    return [f"may be a typo: character {where + 1} as {fixed[where]!r} instead of "
            f"{label[where]!r} gives a validly signed label"]
