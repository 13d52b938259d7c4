"""Recalls in the trust bundle (key ``rcl``, docs/format.md): small enough for a phone.

Each recall is a map ``{"id", "e", "at", "r", "s"}`` (plus ``"b"``, the batch, for a batch
recall) whose ``s`` lists its serial ranges as differences: for each range, its low serial minus
the previous range's high serial (the first: minus 0), then its high minus its low. Contiguous
serials cost a few bytes in all; scattered ones one to five bytes each (CBOR's short integers).
"""

from __future__ import annotations

from typing import Any

from jdzhi.trace.formats.common import MAX_SERIAL, as_int, as_text
from jdzhi.trace.recalls.ranges import Ranges
from jdzhi.trace.trust.model import ItemRecall

__all__ = ["decode_recalls", "encode_recalls"]


def encode_recalls(recalls: tuple[ItemRecall, ...]) -> list[dict[str, Any]]:
    encoded = []
    for recall in recalls:
        item: dict[str, Any] = {"id": recall.recall_id, "e": recall.enterprise_id,
                                "at": recall.effective_at, "r": recall.reason,
                                "s": _differences(recall.serial_ranges)}
        if recall.batch is not None:
            item["b"] = recall.batch
        encoded.append(item)
    return encoded


def decode_recalls(items: Any) -> tuple[ItemRecall, ...]:
    """The bundle's recalls; ValueError (or KeyError, TypeError) on anything malformed."""
    if not isinstance(items, list):
        raise ValueError("rcl is not an array")
    recalls = []
    for item in items:
        batch = item.get("b")
        recalls.append(ItemRecall(
            recall_id=as_int(item["id"]), enterprise_id=as_int(item["e"]),
            serial_ranges=_ranges(item["s"]), reason=as_text(item["r"]),
            effective_at=as_int(item["at"]), batch=None if batch is None else as_text(batch)))
    return tuple(recalls)


def _differences(ranges: Ranges) -> list[int]:
    flat, previous = [], 0
    for low, high in ranges:
        flat += [low - previous, high - low]
        previous = high
    return flat


def _ranges(flat: Any) -> Ranges:
    if not isinstance(flat, list) or len(flat) % 2:
        raise ValueError("a recall's serial ranges are not pairs")
    ranges, previous = [], 0
    for at in range(0, len(flat), 2):
        gap, span = as_int(flat[at]), as_int(flat[at + 1])
        # gaps of at least 1 keep the ranges sorted and disjoint (serials start at 1)
        if gap < 1 or span < 0 or previous + gap + span > MAX_SERIAL:
            raise ValueError("a recall's serial ranges are out of order or out of range")
        low = previous + gap
        ranges.append((low, low + span))
        previous = low + span
    return tuple(ranges)
