"""Finding and decoding the QR codes in photos, then verifying each one.

zxing-cpp reads most phone photos as they are. When it finds nothing, the rescue passes
(:mod:`jdzhi.trace._qr_rescue`) look where a symbol may be, clean up that crop and, failing
that, fit the symbol's module grid to the photo and read it module by module; a label bent
further round a body than that grid follows is then unwrapped as a cylinder. Huge frames are
downscaled first.

Images are untrusted input: a decompression bomb (more than :data:`MAX_PIXELS` pixels), a
truncated file or a file that is no image gives a clean ``unreadable`` outcome with its reason,
never a crash.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from jdzhi.trace.trust import Trust

#: images above this many pixels are refused as possible decompression bombs (100 megapixels)
MAX_PIXELS = 100_000_000
#: frames larger than this on their long side are downscaled before decoding
WORKING_SIDE = 2400
#: the cylinder pass works on frames at most this large on their long side
SMALL_SIDE = 1600
#: image files larger than this are refused before they are read
MAX_FILE_BYTES = 200 * 1024 * 1024

UNREADABLE = "unreadable"
SUSPECTED_CLONE = "suspected-clone"


class UnreadableImage(Exception):
    """The file is not an image jdzhi can read; the message says why (one line)."""


@dataclass(frozen=True)
class Decoded:
    """One QR code found in a photo: its text and the preprocessing pass that found it."""

    text: str
    pass_name: str


@dataclass(frozen=True)
class ScanOutcome:
    """The verdict on one code in one photo (or on a photo with none: ``unreadable``)."""

    image: str
    verdict: str
    serial: str | None
    enterprise: str | None
    reasons: tuple[str, ...]
    text: str | None = None
    decode_pass: str | None = None
    verification: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def genuine(self) -> bool:
        return self.verdict == "genuine"

    def to_json(self) -> dict[str, Any]:
        data = dict(self.verification)
        data.update({"verdict": self.verdict, "serial": self.serial,
                     "enterprise": self.enterprise, "reasons": list(self.reasons),
                     "image": self.image, "text": self.text, "decode_pass": self.decode_pass})
        return data


def load_gray(path: Path) -> npt.NDArray[np.uint8]:
    """The photo as an 8-bit grayscale array (EXIF rotation applied); raises UnreadableImage."""
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        size = path.stat().st_size
    except OSError as error:
        raise UnreadableImage(f"cannot read the file: {error.strerror}") from None
    if size > MAX_FILE_BYTES:
        raise UnreadableImage(f"file of {size} bytes is larger than {MAX_FILE_BYTES} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PIL's complaints about damaged metadata
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                width, height = opened.size
                if width * height > MAX_PIXELS:
                    raise UnreadableImage(
                        f"image of {width} x {height} pixels is larger than the "
                        f"{MAX_PIXELS // 1_000_000} megapixel limit (possible decompression bomb)")
                opened.draft("L", (WORKING_SIDE, WORKING_SIDE))  # JPEG: decode at reduced size
                image = ImageOps.exif_transpose(opened.convert("L"))
                return np.asarray(image, dtype=np.uint8)
    except UnreadableImage:
        raise
    except UnidentifiedImageError:
        raise UnreadableImage("not an image file (or an image format jdzhi cannot read)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnreadableImage("image is larger than the pixel limit (possible decompression "
                              "bomb)") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise UnreadableImage(
            f"damaged or truncated image ({' '.join(str(error).split())[:120]})") from None


def decode_gray(gray: npt.NDArray[np.uint8]) -> list[Decoded]:
    """Every QR code found in ``gray``: by zxing-cpp as it is, else by the first rescue pass
    that reads one."""
    import cv2
    import numpy as np
    import zxingcpp

    from jdzhi.trace._qr_rescue import rescue

    if max(gray.shape) > WORKING_SIDE:
        factor = WORKING_SIDE / max(gray.shape)
        # at least one pixel each way: a 1 x 5000 image must not shrink to an empty one
        size = (max(1, round(gray.shape[1] * factor)), max(1, round(gray.shape[0] * factor)))
        gray = np.asarray(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    formats = zxingcpp.barcode_formats_from_str("QRCode")

    def read(image: Any) -> list[str]:
        found: list[str] = []
        for barcode in zxingcpp.read_barcodes(image, formats=formats):
            if barcode.valid and barcode.text not in found:
                found.append(barcode.text)
        return found

    # symbols zxing-cpp locates but cannot decode are where the rescue passes look first
    direct = zxingcpp.read_barcodes(gray, formats=formats, return_errors=True)
    texts = list(dict.fromkeys(barcode.text for barcode in direct if barcode.valid))
    if texts:
        return [Decoded(text, "direct") for text in texts]
    rescued = rescue(gray, [barcode for barcode in direct if not barcode.valid])
    if rescued:
        return [Decoded(text, name) for text, name in rescued]
    for unwrapped in cylinder_unwraps(gray):
        texts = read(unwrapped)
        if texts:
            return [Decoded(text, CYLINDER_PASS) for text in texts]
    return []


# ---------------------------------------------------------------------------------------------
# labels wrapped around a curved body
#
# A decal on a vase or cup lies on a cylinder whose axis runs along the label's height. Seen from
# the front, a point at arc length s from the line facing the camera appears at R sin(s / R)
# from that line (R: the radius in pixels), so modules crowd together towards the edges and
# zxing, which expects evenly spaced modules, fails once the code reaches far round the body.
# The three finder patterns of the code stay findable (nested dark-light-dark squares) and tell
# both the axis (the top-left to bottom-left finder line runs along it) and, by how much
# narrower than tall each finder appears (cos of its angle on the body), where on the cylinder
# they sit. Each plausible reading of that gives a radius and an axis line; the code is
# resampled at even arc length and decoded again. A wrong guess can only fail to decode: the
# decoded text is still checked by its Reed-Solomon code and then by its signature.

CYLINDER_PASS = "cylinder"
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


def _finder_triples(patterns: Sequence[FinderPattern]
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
    for top_left, top_right, bottom_left in _finder_triples(finder_patterns(gray)):
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


def decode_image(path: Path) -> list[Decoded]:
    """The QR codes in the photo at ``path``; raises UnreadableImage for a bad file."""
    return decode_gray(load_gray(path))


def check_images(paths: Sequence[Path]) -> None:
    """Refuse missing paths and folders up front, before anything is scanned or logged."""
    if not paths:
        raise InvalidInput("give at least one image to scan")
    for path in paths:
        if not path.exists():
            raise InvalidInput(f"no such file: {path}")
        if path.is_dir():
            raise InvalidInput(f"{path} is a folder, not an image")


def scan_photo(path: Path, trust: Trust, *, now: datetime | None = None) -> list[ScanOutcome]:
    """Decode and verify every code in one photo (no scan log: see :func:`scanlog.scan`)."""
    from jdzhi.trace.verify import verify_label_text

    image = str(path)
    try:
        found = decode_image(path)
    except UnreadableImage as error:
        return [ScanOutcome(image, UNREADABLE, None, None, (f"cannot read the image: {error}",))]
    if not found:
        return [ScanOutcome(image, UNREADABLE, None, None,
                            ("no readable QR code found in the photo",))]
    outcomes = []
    for decoded in found:
        result = verify_label_text(decoded.text, trust, now=now)
        outcomes.append(ScanOutcome(
            image=image, verdict=str(result.verdict), serial=result.serial,
            enterprise=result.enterprise, reasons=tuple(result.reasons), text=decoded.text,
            decode_pass=decoded.pass_name, verification=result.to_json(),
        ))
    return outcomes
