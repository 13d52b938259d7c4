"""Inspectors' scans reported to the center (`jdzhi scan --server`), and its verdict taken."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from jdzhi.errors import JdzhiError
from jdzhi.online.client import Center, answer_fields, check_server_url, open_center

if TYPE_CHECKING:
    from jdzhi.trace.scanning.decode import ScanOutcome

__all__ = ["CenterVerdict", "ReportedScan", "ReportedScans", "report_scans"]


@dataclass(frozen=True)
class CenterVerdict:
    """What the center answered for one reported code."""

    verdict: str
    reasons: tuple[str, ...]
    checks: int | None
    first_checked_at: str | None
    clone_warning: str | None


@dataclass(frozen=True)
class ReportedScan:
    """One scanned code after the center's word: the local verdict stands unless it was
    genuine and the center's is not (a clone found in the center's log, a revocation the local
    trust has not heard of). The center's answer is not signed, so it can only take a genuine
    verdict away, never give one."""

    outcome: ScanOutcome
    center: CenterVerdict | None
    verdict_from: Literal["local", "center"]


@dataclass(frozen=True)
class ReportedScans:
    """Every outcome of a scan, in order, with the center's word for those reported; ``error``
    is why the rest were not reported (the local scan log has them all)."""

    server: str
    scans: tuple[ReportedScan, ...]
    reported: int
    error: JdzhiError | None


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun if count == 1 else noun + 's'}"


def _merged(outcome: ScanOutcome, center: CenterVerdict) -> ReportedScan:
    if not outcome.genuine or center.verdict == "genuine":
        return ReportedScan(outcome, center, "local")
    reasons = [f"the center: {reason}" for reason in center.reasons
               if reason not in outcome.reasons]
    taken = replace(outcome, verdict=center.verdict, reasons=(*outcome.reasons, *reasons))
    return ReportedScan(taken, center, "center")


def _center_verdict(answer: Any, center: Center) -> CenterVerdict:
    fields = answer_fields(answer, center, verdict=str, reasons=list)
    checks, first, warning = (fields.get(name) for name in
                              ("checks", "first_checked_at", "clone_warning"))
    return CenterVerdict(fields["verdict"], tuple(str(r) for r in fields["reasons"]),
                         checks if isinstance(checks, int) else None,
                         first if isinstance(first, str) else None,
                         warning if isinstance(warning, str) else None)


def report_scans(server: str, token: str, outcomes: Sequence[ScanOutcome], *,
                 inspector: str = "", location: str = "", logged: bool = True,
                 progress: Callable[[int], None] | None = None) -> ReportedScans:
    """Report every decoded code to the center as the inspector of ``token``
    (`POST /api/v1/scans`, source "inspector") and take its verdict (:class:`ReportedScan`).
    A failure stops the reporting and is returned, not raised: the caller shows the local
    verdicts first. ``logged``: whether the home's scan log has the scans (the error says)."""
    base = check_server_url(server)
    scans = [ReportedScan(outcome, None, "local") for outcome in outcomes]
    reported = 0
    error: JdzhiError | None = None
    try:
        with open_center(base) as center:
            for index, outcome in enumerate(outcomes):
                if outcome.text is not None:
                    request = {"label": outcome.text, "source": "inspector",
                               **({"inspector": inspector} if inspector else {}),
                               **({"location": location} if location.strip() else {})}
                    _, answer = center.call("POST", "/api/v1/scans", what="the scan",
                                            content=json.dumps(request).encode("utf-8"),
                                            content_type="application/json", token=token,
                                            patient=True)
                    scans[index] = _merged(outcome, _center_verdict(answer, center))
                    reported += 1
                if progress is not None:
                    progress(1)
    except JdzhiError as failed:
        left = sum(1 for outcome in outcomes if outcome.text is not None) - reported
        kept = ("this home's scan log has every scan" if logged
                else "they are not in this home's scan log either")
        error = type(failed)(f"{failed.message}; {_plural(left, 'scanned code')} not "
                             f"reported to the center ({kept})", failed.exit_code)
    return ReportedScans(base, tuple(scans), reported, error)
