"""How a submission differs from the registered work it copies: a closed set of kinds.

The hash stage (the view that matched) and the keypoint stage (the geometry) may both see one
modification, a rotation of 8° and of 7° say: :func:`describe` names each kind once, the first
seen (the hash view's, which is exact for flips and quarter turns) winning.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = ["Modification", "ModificationKind", "describe", "rotated"]

ModificationKind = Literal[
    "mirrored", "flipped", "rotated", "cropped", "pasted", "perspective", "recoloured"]

_WORDS: dict[ModificationKind, str] = {
    "mirrored": "mirrored",
    "flipped": "flipped upside down",
    "rotated": "rotated",
    "cropped": "cropped",
    "pasted": "pasted into a larger picture",
    "perspective": "seen in perspective",
    "recoloured": "recoloured",
}


@dataclass(frozen=True)
class Modification:
    """One modification; ``degrees`` for a rotation (positive, rounded)."""

    kind: ModificationKind
    degrees: int | None = None

    def __str__(self) -> str:
        if self.kind == "rotated" and self.degrees is not None:
            return f"rotated {self.degrees}°"
        return _WORDS[self.kind]


def rotated(degrees: float) -> Modification:
    """A rotation by ``degrees`` either way."""
    return Modification("rotated", round(abs(degrees)))


def describe(modifications: Iterable[Modification]) -> str | None:
    """The modifications as words, each kind once (None: unmodified)."""
    named: dict[ModificationKind, Modification] = {}
    for modification in modifications:
        named.setdefault(modification.kind, modification)
    return ", ".join(str(m) for m in named.values()) or None
