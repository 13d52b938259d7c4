"""Where in a photo a QR symbol may be, when zxing-cpp could not read it as it is.

Three sources, strongest first: symbols zxing-cpp found but could not decode (it reports where),
finder-pattern triples found in the whole frame, and a coarse texture detector that needs no
finder pattern at all: a QR symbol is a patch of dark and light modules whose edges run both
ways, and blur that merges a finder's rings still leaves that texture. Each source gives a
:class:`Region`; nearby regions are merged so that a symbol is worked on once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Gray = npt.NDArray[np.uint8]

#: texture regions proposed per photo (each costs a crop's worth of work when nothing reads)
TEXTURE_REGIONS = 3
#: the texture detector looks at the frame at this scale (a module of 2.4-7 px becomes 0.6-1.8)
TEXTURE_SCALE = 0.25
#: smallest and largest side, in frame pixels, of the square cut around a region
MIN_CROP, MAX_CROP = 160.0, 900.0


Corners = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Region:
    """A place to look: centre and a rough symbol side in frame pixels, and the source; for a
    symbol zxing-cpp located, its corners (top left, top right, bottom right, bottom left) and
    its size in modules as zxing-cpp read them."""

    centre: tuple[float, float]
    side: float
    source: str
    corners: Corners | None = None
    modules: int | None = None

    def overlaps(self, other: Region) -> bool:
        reach = 0.5 * max(self.side, other.side)
        return math.dist(self.centre, other.centre) < reach


def from_positions(barcodes: Iterable[Any]) -> list[Region]:
    """Regions of QR symbols zxing-cpp located (``position`` of its results) but did not decode,
    the largest first (a symbol's finder pattern is sometimes also taken for a Micro QR one)."""
    regions = []
    for barcode in barcodes:
        version = str(barcode.extra.get("Version", ""))
        if not version.isdigit():  # Micro QR and rMQR versions read M1-M4, R...
            continue
        position = barcode.position
        corners = tuple((float(p.x), float(p.y)) for p in (
            position.top_left, position.top_right, position.bottom_right, position.bottom_left))
        xs, ys = [x for x, _ in corners], [y for _, y in corners]
        side = max(max(xs) - min(xs), max(ys) - min(ys))
        regions.append(Region((sum(xs) / 4, sum(ys) / 4), max(side, 21.0), "located", corners,
                              17 + 4 * int(version)))
    return sorted(regions, key=lambda region: -region.side)


def from_finders(centres: Sequence[tuple[tuple[float, float], ...]]) -> list[Region]:
    """Regions of finder-pattern triples (top left, top right, bottom left centres)."""
    regions = []
    for top_left, top_right, bottom_left in centres:
        # the symbol's centre is midway between the top-right and bottom-left finders
        centre = ((top_right[0] + bottom_left[0]) / 2, (top_right[1] + bottom_left[1]) / 2)
        side = 1.2 * max(math.dist(top_left, top_right), math.dist(top_left, bottom_left))
        regions.append(Region(centre, side, "finders"))
    return regions


def texture_regions(gray: Gray, count: int = TEXTURE_REGIONS) -> list[Region]:
    """The ``count`` patches of the frame densest in edges running both ways, best first.

    A straight edge (a rim, a brush stroke, the label's border) is strong in one direction
    only; the geometric mean of the horizontal and vertical gradients keeps the corners and
    checkers that fill a QR symbol. Measured at half scale, summed over windows at a quarter.
    """
    import cv2
    import numpy as np

    half = cv2.resize(gray, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    half = half.astype(np.float32)
    both = np.sqrt(np.abs(cv2.Sobel(half, cv2.CV_32F, 1, 0))
                   * np.abs(cv2.Sobel(half, cv2.CV_32F, 0, 1)))
    small_size = (max(1, round(gray.shape[1] * TEXTURE_SCALE)),
                  max(1, round(gray.shape[0] * TEXTURE_SCALE)))
    density = cv2.boxFilter(cv2.resize(both, small_size, interpolation=cv2.INTER_AREA), -1,
                            (9, 9))
    regions: list[Region] = []
    for _ in range(count):
        _, peak, _, (x, y) = cv2.minMaxLoc(density)
        if peak <= 0:
            break
        # the patch: what stays above half the peak around it
        mask = np.zeros((density.shape[0] + 2, density.shape[1] + 2), dtype=np.uint8)
        flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (255 << 8)
        _, _, _, (bx, by, bw, bh) = cv2.floodFill(density, mask, (x, y), 0, peak / 2, peak,
                                                  flags)
        side = max(bw, bh) / TEXTURE_SCALE
        regions.append(Region((x / TEXTURE_SCALE, y / TEXTURE_SCALE), side, "texture"))
        density[mask[1:-1, 1:-1] > 0] = 0
    return regions


def merged(regions: Iterable[Region]) -> list[Region]:
    """``regions`` in order, leaving out any that overlaps one kept before it."""
    kept: list[Region] = []
    for region in regions:
        if not any(region.overlaps(other) for other in kept):
            kept.append(region)
    return kept


def crop_side(region: Region) -> float:
    """The side of the square cut around a region: the symbol with a margin for a poor guess."""
    return min(max(1.6 * region.side, MIN_CROP), MAX_CROP)
