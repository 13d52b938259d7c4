"""Scans of photos and labels (`jdzhi scan`, the server's `POST /api/v1/scans`, a center's word
on a reported scan) and the scan log's report (`jdzhi scans report`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jdzhi._format.verification import verification_json

if TYPE_CHECKING:
    from jdzhi.online.scans import ReportedScan
    from jdzhi.trace.scanning.decode import ScanOutcome
    from jdzhi.trace.scanning.log import EnterpriseScans, ScanReport, SuspectedClone


def scan_outcome_json(outcome: ScanOutcome) -> dict[str, Any]:
    """Every field of the code's verification, then the scan's own (its verdict wins: a
    suspected clone, or the center's verdict)."""
    data = verification_json(outcome.verification) if outcome.verification else {}
    data.update({"verdict": outcome.verdict, "serial": outcome.serial,
                 "enterprise": outcome.enterprise, "reasons": list(outcome.reasons),
                 "image": outcome.image, "text": outcome.text, "decode_pass": outcome.decode_pass})
    return data


def reported_scan_json(scan: ReportedScan) -> dict[str, Any]:
    center = scan.center
    return {**scan_outcome_json(scan.outcome), "checks": center.checks if center else None,
            "first_checked_at": center.first_checked_at if center else None,
            "clone_warning": center.clone_warning if center else None,
            "center_verdict": center.verdict if center else None,
            "verdict_from": scan.verdict_from}


def enterprise_scans_json(scans: EnterpriseScans) -> dict[str, Any]:
    return {"enterprise": scans.enterprise, "scans": scans.scans, "serials": scans.serials,
            "verdicts": dict(scans.verdicts)}


def suspected_clone_json(clone: SuspectedClone) -> dict[str, Any]:
    return {"enterprise": clone.enterprise, "serial": clone.serial, "flagged": clone.flagged,
            "sightings": clone.sightings, "locations": list(clone.locations),
            "first_seen": clone.first_seen, "last_seen": clone.last_seen}


def scan_report_json(report: ScanReport) -> dict[str, Any]:
    return {"total": report.total, "verdicts": dict(report.verdicts),
            "enterprises": [enterprise_scans_json(e) for e in report.enterprises],
            "suspected_clones": [suspected_clone_json(c) for c in report.clones]}
