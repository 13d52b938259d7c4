"""QR finder patterns in a photo, the triples that may make a symbol, and the cylinder unwrap
of a label bent round a vase (from the finders' shapes).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


#: the cylinder pass works on frames scaled to at most this size on their long side
SMALL_SIDE = 1600
#: finder-pattern triples tried per photo, best shaped first
MAX_FINDER_TRIPLES = 4
#: finder patterns kept per photo (the most square-like), which bounds the triples examined
MAX_FINDERS = 12
#: dark and light regions beyond which a frame is too busy to look for finder patterns in (a
#: label photo has a few thousand; the porcelain photos at most about 2,500)
MAX_REGIONS = 12_000


@dataclass(frozen=True)
class FinderPattern:
    """A candidate QR finder pattern: its centre and outline (pixels, x then y)."""

    center: tuple[float, float]
    outline: npt.NDArray[np.float64]


def finder_patterns(gray: npt.NDArray[np.uint8]) -> list[FinderPattern]:
    """Candidate finder patterns: dark rings around a dark core, in areas near 49 : 25 : 9."""
    import cv2
    import numpy as np

    found: list[tuple[float, FinderPattern]] = []
    block = max(15, (min(gray.shape) // 40) | 1)
    binary = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV,
                                   block, 5)
    # OpenCV's contour tree takes time superlinear in the number of regions (40 s for a noise
    # image of 2400 x 2400 pixels): a frame that busy is refused here, in linear time
    regions = (cv2.connectedComponents(binary, connectivity=4)[0]
               + cv2.connectedComponents(255 - binary, connectivity=8)[0])
    if regions > MAX_REGIONS:
        return []
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    links = hierarchy[0]
    for index, contour in enumerate(contours):
        child = links[index][2]
        grandchild = links[child][2] if child >= 0 else -1
        if grandchild < 0:
            continue
        outer = cv2.contourArea(contour)
        ring = outer / max(cv2.contourArea(contours[child]), 1.0)
        core = outer / max(cv2.contourArea(contours[grandchild]), 1.0)
        if outer < 30 or not (1.3 < ring < 3.5 and 3.0 < core < 12.0):
            continue
        moments = cv2.moments(contour)
        if moments["m00"] <= 0:
            continue
        center = (moments["m10"] / moments["m00"], moments["m01"] / moments["m00"])
        if any(np.hypot(center[0] - other.center[0], center[1] - other.center[1]) < 3
               for _, other in found):
            continue
        squareness = abs(np.log(ring / (49 / 25))) + abs(np.log(core / (49 / 9)))
        found.append((squareness, FinderPattern(center, contour.reshape(-1, 2).astype(float))))
    found.sort(key=lambda entry: entry[0])
    return [pattern for _, pattern in found[:MAX_FINDERS]]


def finder_triples(patterns: Sequence[FinderPattern]
                    ) -> list[tuple[FinderPattern, FinderPattern, FinderPattern]]:
    """(top-left, top-right, bottom-left) triples shaped like a QR code's finders, best first.

    The corner finder is the one at the right angle; the top-right one lies clockwise of the
    bottom-left one seen from it (an unmirrored code), and the side along the axis (to the
    bottom-left finder) keeps its length while the other may be foreshortened by the body.
    """
    import itertools

    import numpy as np

    triples: list[tuple[float, tuple[FinderPattern, FinderPattern, FinderPattern]]] = []
    for trio in itertools.combinations(patterns, 3):
        for corner in range(3):
            top_left = trio[corner]
            first, second = (trio[i] for i in range(3) if i != corner)
            origin = np.array(top_left.center)
            to_first = np.array(first.center) - origin
            to_second = np.array(second.center) - origin
            cross = to_first[0] * to_second[1] - to_first[1] * to_second[0]
            top_right, bottom_left = (first, second) if cross > 0 else (second, first)
            across = np.array(top_right.center) - origin
            along = np.array(bottom_left.center) - origin
            length_across, length_along = np.hypot(*across), np.hypot(*along)
            if length_along < 1 or length_across < 1:
                continue
            cosine = abs(float(across @ along)) / (length_across * length_along)
            ratio = length_across / length_along
            finder_size = _extent(top_left.outline, along / length_along)
            modules_along = 7 * length_along / max(finder_size, 1.0)
            # a code of versions 1-10: finder centres 14 to 50 modules apart
            if cosine > 0.35 or not 0.15 < ratio < 1.5 or not 10 < modules_along < 60:
                continue
            triples.append((cosine + abs(np.log(min(ratio, 1.0))) * 0.1,
                            (top_left, top_right, bottom_left)))
    triples.sort(key=lambda entry: entry[0])
    return [trio for _, trio in triples[:MAX_FINDER_TRIPLES]]


def _extent(outline: npt.NDArray[np.float64], direction: npt.NDArray[np.float64]) -> float:
    projected = outline @ direction
    return float(projected.max() - projected.min())


def cylinder_unwraps(gray: npt.NDArray[np.uint8]) -> Iterator[npt.NDArray[np.uint8]]:
    """The code region resampled at even arc length, for each plausible cylinder (lazily)."""
    import cv2
    import numpy as np

    if max(gray.shape) > SMALL_SIDE:  # bounds the cost; a code this pass can read survives it
        factor = SMALL_SIDE / max(gray.shape)
        gray = np.asarray(cv2.resize(gray, (max(1, round(gray.shape[1] * factor)),
                                            max(1, round(gray.shape[0] * factor))),
                                     interpolation=cv2.INTER_AREA), dtype=np.uint8)
    for top_left, top_right, bottom_left in finder_triples(finder_patterns(gray)):
        origin = np.array(top_left.center)
        along = np.array(bottom_left.center) - origin
        along /= np.hypot(*along)
        across = np.array(top_right.center) - origin
        across -= (across @ along) * along  # square to the axis
        width = float(np.hypot(*across))
        across /= width
        height = float((np.array(bottom_left.center) - origin) @ along)
        size = float(np.mean([_extent(f.outline, along) for f in (top_left, bottom_left)]))

        relative = (min(_squeeze(top_left, across, along), _squeeze(bottom_left, across, along))
                    / _squeeze(top_right, across, along))
        for left, right in _angle_pairs(relative):
            radius = width / (np.sin(right) - np.sin(left))
            axis = -radius * np.sin(left)  # the line facing the camera, across from top left
            margin = 1.3 * size
            arcs = np.arange(radius * left - margin, radius * right + margin)
            arcs = arcs[np.abs(arcs) < radius * np.pi / 2 * 0.98]
            rows = np.arange(-margin, height + margin)
            # a code of 21 modules or more, resampled to at most a few times its size
            if not 21 <= len(arcs) <= 4 * (width + 2 * margin) or len(rows) < 21:
                continue
            offsets = axis + radius * np.sin(arcs / radius)
            points = (origin[None, None, :] + offsets[None, :, None] * across
                      + rows[:, None, None] * along)
            yield np.asarray(cv2.remap(gray, points[..., 0].astype(np.float32),
                                       points[..., 1].astype(np.float32), cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_CONSTANT, borderValue=255),
                             dtype=np.uint8)


def _squeeze(pattern: FinderPattern, across: npt.NDArray[np.float64],
             along: npt.NDArray[np.float64]) -> float:
    """How much narrower than tall a finder looks (cos of its angle on the body, times what
    perspective and blur add, which the finders of one code share roughly)."""
    return _extent(pattern.outline, across) / max(_extent(pattern.outline, along), 1.0)


#: angles (radians from the line facing the camera) tried for the less squeezed finder
_ANGLE_STEPS = (0.0, 0.3, -0.3, 0.6, -0.6, 0.9)


def _angle_pairs(relative: float) -> list[tuple[float, float]]:
    """(left, right) angles on the body of the left and right finders that fit ``relative``,
    the ratio of their squeezes (cos left / cos right): one angle from a short list, the other
    from the ratio on either side of the facing line.

    The absolute squeeze of one finder is a poor guide (blur widens a finder, a tilted camera
    stretches it), but both finders of a code suffer alike, so their ratio is kept.
    """
    import math

    pairs: list[tuple[float, float]] = []
    for known in _ANGLE_STEPS:
        if relative <= 1:  # the left finder is the more squeezed one
            cosine = relative * math.cos(known)
            options = [(sign * math.acos(cosine), known) for sign in (-1, 1)]
        else:
            cosine = math.cos(known) / relative
            options = [(known, sign * math.acos(cosine)) for sign in (-1, 1)]
        for left, right in options:
            if (max(abs(left), abs(right)) < 1.45 and math.sin(right) - math.sin(left) > 0.05
                    and (left, right) not in pairs):
                pairs.append((left, right))
    return pairs
