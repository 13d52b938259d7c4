"""Serial ranges: parsing what people type (``12,13-20``), merging, and the text stored."""

from __future__ import annotations

from collections.abc import Iterable

from jdzhi.errors import InvalidInput
from jdzhi.trace.formats.common import SERIAL_PATTERN

__all__ = ["MAX_RANGES", "Ranges", "count", "format_ranges", "merge", "parse_serials"]

#: inclusive (low, high) pairs, sorted and disjoint
Ranges = tuple[tuple[int, int], ...]

#: serial ranges one recall may list (a typed or pasted list; a batch recall has no such bound)
MAX_RANGES = 1_000_000


def parse_serials(text: str) -> Ranges:
    """``12,13-20`` as merged ranges; every serial as in a signed record (1-12 digits)."""
    pieces = [piece.strip() for piece in text.split(",")]
    if not any(pieces):
        raise InvalidInput("--serials lists no serial (e.g. --serials 12,13-20)")
    if len(pieces) > MAX_RANGES:
        raise InvalidInput(f"--serials lists more than {MAX_RANGES:,} serials or ranges")
    ranges = []
    for piece in pieces:
        low_text, dash, high_text = piece.partition("-")
        bounds = (low_text.strip(), high_text.strip() if dash else low_text.strip())
        if not all(SERIAL_PATTERN.fullmatch(bound) for bound in bounds):
            raise InvalidInput(f"--serials: {piece!r} is not a serial (1-12 digits, no leading "
                               "zero) or a range of them such as 13-20")
        low, high = int(bounds[0]), int(bounds[1])
        if low > high:
            raise InvalidInput(f"--serials: the range {piece!r} runs backwards")
        ranges.append((low, high))
    return merge(ranges)


def merge(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sorted, with overlapping and adjacent ranges joined."""
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return tuple(merged)


def format_ranges(ranges: Ranges) -> str:
    return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in ranges)


def count(ranges: Ranges) -> int:
    return sum(high - low + 1 for low, high in ranges)

