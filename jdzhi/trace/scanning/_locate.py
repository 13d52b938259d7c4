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
#: the texture detector sums at this scale, over windows of this many pixels (84 in the frame)
TEXTURE_SCALE, TEXTURE_WINDOW = 0.25, 21
#: the share of the frame's long side around a texture region where no other is proposed
TEXTURE_REACH = 0.15


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
        version = str((barcode.extra or {}).get("Version", ""))
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
    checkers that fill a QR symbol. Measured at half scale, summed over windows of about a
    small symbol at a quarter; each patch found blanks a disc of :data:`TEXTURE_REACH` of the
    frame's long side around it.
    """
    import cv2
    import numpy as np

    half_size = (max(1, gray.shape[1] // 2), max(1, gray.shape[0] // 2))
    half = cv2.resize(gray, half_size, interpolation=cv2.INTER_AREA).astype(np.float32)
    both = np.sqrt(np.abs(cv2.Sobel(half, cv2.CV_32F, 1, 0))
                   * np.abs(cv2.Sobel(half, cv2.CV_32F, 0, 1)))
    small_size = (max(1, round(gray.shape[1] * TEXTURE_SCALE)),
                  max(1, round(gray.shape[0] * TEXTURE_SCALE)))
    density = cv2.boxFilter(cv2.resize(both, small_size, interpolation=cv2.INTER_AREA), -1,
                            (TEXTURE_WINDOW, TEXTURE_WINDOW))
    reach = TEXTURE_REACH * max(gray.shape)
    regions: list[Region] = []
    for _ in range(count):
        _, peak, _, (x, y) = cv2.minMaxLoc(density)
        if peak <= 0:
            break
        regions.append(Region((x / TEXTURE_SCALE, y / TEXTURE_SCALE), 2 * reach, "texture"))
        cv2.circle(density, (x, y), max(1, round(reach * TEXTURE_SCALE)), 0.0, -1)
    return regions


def merged(regions: Iterable[Region]) -> list[Region]:
    """``regions`` in order, leaving out any that overlaps one kept before it."""
    kept: list[Region] = []
    for region in regions:
        if not any(region.overlaps(other) for other in kept):
            kept.append(region)
    return kept
