"""Certified keys."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from jdzhi.timeutil import format_time, utc_now
from jdzhi.trace.formats.records import base64url

if TYPE_CHECKING:
    from jdzhi.trace.keys.certified import KeyInfo


def key_json(key: KeyInfo, now: datetime | None = None) -> dict[str, Any]:
    """A key and its status at ``now`` (default: the clock's now)."""
    return {
        "key_id": key.key_id, "role": key.role, "public_key": base64url(key.public_key),
        "status": key.status_at(now or utc_now()),
        "not_before": format_time(key.not_before), "not_after": format_time(key.not_after),
        "issued_at": format_time(key.issued_at), "enterprise_id": key.enterprise_id,
        "enterprise": key.enterprise, "license_no": key.license_no, "lab_id": key.lab_id,
        "lab": key.lab,
        "ended_at": format_time(key.ended_at) if key.ended_at else None,
        "end_kind": key.end_kind, "end_reason": key.end_reason or None,
    }
