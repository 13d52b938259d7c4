"""Recalling items in the registry, listing recalls, and reading them as verifiers trust them.

Every recall is audited in the transaction that stores it. A batch recall is resolved to the
batch's signed serials each time trust is read (:func:`trusted_recalls`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jdzhi.errors import InvalidInput, NotFound
from jdzhi.registry import audit
from jdzhi.registry.db import rows, transaction
from jdzhi.registry.enterprises import get_enterprise
from jdzhi.timeutil import format_time, parse_time, unix_time
from jdzhi.trace.recalls.ranges import Ranges, format_ranges, merge, parse_serials
from jdzhi.trace.trust.model import ItemRecall
from jdzhi.trace.trust.status import dated_change

if TYPE_CHECKING:
    from jdzhi.registry.db import Database

__all__ = ["MAX_REASON_CHARS", "Recall", "list_recalls", "recall_items", "trusted_recalls"]

#: a reason travels in every trust bundle and shows on the phone page: a sentence, not a report
MAX_REASON_CHARS = 200


@dataclass(frozen=True)
class Recall:
    """A stored recall; a batch recall's ``serial_ranges`` are the batch's signed serials."""

    recall_id: int
    enterprise_id: int
    enterprise: str
    batch: str | None
    serial_ranges: Ranges
    reason: str
    effective_at: datetime
    recorded_at: datetime
    #: how many of the recalled serials the registry has signed
    signed: int


def recall_items(db: Database, enterprise_ref: str, *, serials: str | None = None,
                 batch: str | None = None, reason: str,
                 effective_at: datetime | None = None) -> Recall:
    """Recall serials (``12,13-20``) or a whole batch of an enterprise, from ``effective_at``
    (default now; may lie in the past, or up to a year ahead)."""
    if (serials is None) == (batch is None):
        raise InvalidInput("give either --serials or --batch")
    dated = dated_change(reason, effective_at, what="recall items", change="a recall",
                         max_reason_chars=MAX_REASON_CHARS)
    reason, moment, now = dated.reason, dated.effective_at, dated.recorded_at
    ranges = parse_serials(serials) if serials is not None else None
    enterprise = get_enterprise(db, enterprise_ref)
    with transaction(db):
        if batch is not None and not _batch_serials(db, enterprise.id, batch):
            raise NotFound(f"{enterprise.name} has no signed record in batch {batch!r}")
        cursor = db.execute(
            "INSERT INTO item_recalls (enterprise_id, serials, batch, reason, effective_at, "
            "recorded_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            [enterprise.id, None if ranges is None else format_ranges(ranges), batch, reason,
             format_time(moment), format_time(now)])
        recall_id = int(cursor.fetchone()[0])
        details = {"enterprise_id": enterprise.id, "reason": reason,
                   **({"batch": batch} if batch is not None else {})}
        audit.record_row_change(db, action="item.recall", table="item_recalls", key=recall_id,
                                before=None, details=details)
    (stored,) = list_recalls(db, recall_id=recall_id)
    return stored


def list_recalls(db: Database, *, recall_id: int | None = None
                 ) -> tuple[Recall, ...]:
    """Every recall (or the one with ``recall_id``), oldest first."""
    found = []
    # the parameter is cast: PostgreSQL cannot tell the type of a bare NULL one
    for row in rows(db, "SELECT r.*, e.name AS enterprise FROM item_recalls r "
                        "JOIN enterprises e ON e.id = r.enterprise_id "
                        "WHERE CAST(? AS BIGINT) IS NULL OR r.id = ? ORDER BY r.id",
                    [recall_id, recall_id]):
        ranges = _ranges_of(db, row)
        found.append(Recall(
            row["id"], row["enterprise_id"], row["enterprise"], row["batch"], ranges,
            row["reason"], parse_time(row["effective_at"]), parse_time(row["recorded_at"]),
            _signed_count(db, row["enterprise_id"], ranges)))
    return tuple(found)


def trusted_recalls(db: Database) -> tuple[ItemRecall, ...]:
    """Every recall as verification and the trust bundle use it."""
    return tuple(
        ItemRecall(row["id"], row["enterprise_id"], _ranges_of(db, row), row["reason"],
                   unix_time(parse_time(row["effective_at"])), row["batch"])
        for row in rows(db, "SELECT * FROM item_recalls ORDER BY id")
    )


def _ranges_of(db: Database, row: dict[str, Any]) -> Ranges:
    if row["batch"] is not None:
        return _batch_serials(db, row["enterprise_id"], row["batch"])
    return parse_serials(row["serials"])


def _batch_serials(db: Database, enterprise_id: int, batch: str) -> Ranges:
    return merge((serial, serial) for (serial,) in db.execute(
        "SELECT CAST(serial AS INTEGER) FROM signed_records WHERE enterprise_id = ? "
        "AND batch = ?", [enterprise_id, batch]).fetchall())


def _signed_count(db: Database, enterprise_id: int, ranges: Ranges) -> int:
    # serials are stored as text: read them once as numbers rather than query range by range
    signed = sorted(serial for (serial,) in db.execute(
        "SELECT CAST(serial AS INTEGER) FROM signed_records WHERE enterprise_id = ?",
        [enterprise_id]).fetchall())
    return sum(bisect_right(signed, high) - bisect_left(signed, low) for low, high in ranges)
