"""Verdicts on labels and records (`jdzhi verify`), and the testing center's word on a batch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jdzhi.timeutil import format_time

if TYPE_CHECKING:
    from jdzhi.trace.verification.result import EndorsementStatus, VerificationResult


def endorsement_json(status: EndorsementStatus) -> dict[str, Any]:
    if status.status == "none":
        return {"status": "none"}
    return {
        "status": status.status, "lab": status.lab, "report_no": status.report_no,
        "tested_at": format_time(status.tested_at) if status.tested_at else None,
        "batch": status.batch, "standard": status.standard,
    }


def verification_json(result: VerificationResult) -> dict[str, Any]:
    return {
        "verdict": str(result.verdict),
        "serial": result.serial,
        "enterprise": result.enterprise,
        "reasons": list(result.reasons),
        "endorsement": endorsement_json(result.endorsement),
        "form": result.form,
        "enterprise_id": result.enterprise_id,
        "enterprise_short_name": result.enterprise_short_name,
        "license_no": result.license_no,
        "key_id": result.key_id,
        "category": result.category,
        "category_name": result.category_name,
        "signed_at": format_time(result.signed_at) if result.signed_at else None,
        "production_date": result.production_date,
        "batch": result.batch,
        **result.extra,
    }
