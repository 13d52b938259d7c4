"""Signed records: a signing run (`jdzhi sign`), records pushed to the center (`jdzhi push`, the
server's `POST /api/v1/records`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jdzhi.timeutil import format_time

if TYPE_CHECKING:
    from jdzhi.online.uploads import Pushed
    from jdzhi.server._uploads import RecordsStored
    from jdzhi.trace.signing.batch import SignSummary


def sign_summary_json(summary: SignSummary) -> dict[str, Any]:
    return {
        "signed": summary.count, "already_signed": summary.already_signed, "out": summary.out,
        "enterprise_id": summary.enterprise_id,
        "enterprise": summary.enterprise, "key_id": summary.key_id,
        "license_no": summary.license_no, "signed_at": format_time(summary.signed_at),
        "base_url": summary.base_url, "batches": list(summary.batches),
        "records_sha256": summary.records_sha256, "trust": summary.trust,
        "stored_in": summary.stored_in,
    }


def records_stored_json(stored: RecordsStored) -> dict[str, int]:
    return {"stored": stored.stored, "already_stored": stored.already_stored}


def pushed_json(pushed: Pushed) -> dict[str, Any]:
    return {"server": pushed.server, "file": pushed.file, "lines": pushed.lines,
            "requests": pushed.requests, "stored": pushed.stored,
            "already_stored": pushed.already_stored}
