"""Recalls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jdzhi.timeutil import format_time
from jdzhi.trace.recalls.ranges import count, format_ranges

if TYPE_CHECKING:
    from jdzhi.trace.recalls.store import Recall


def recall_json(recall: Recall) -> dict[str, Any]:
    return {"recall_id": recall.recall_id, "enterprise_id": recall.enterprise_id,
            "enterprise": recall.enterprise, "batch": recall.batch,
            "serials": format_ranges(recall.serial_ranges),
            "serial_count": count(recall.serial_ranges), "signed": recall.signed,
            "reason": recall.reason, "effective_at": format_time(recall.effective_at),
            "recorded_at": format_time(recall.recorded_at)}
