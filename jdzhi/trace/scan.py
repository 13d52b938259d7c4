"""Finding and decoding the QR codes in photos, then verifying each one.

zxing-cpp reads most phone photos as they are. When the first pass finds nothing, the photo is
tried again after preprocessing that rescues the usual field failures, cheapest first: upscaling a
code that is small in the frame, local contrast (CLAHE) for glare and low contrast, sharpening for
slight blur, and Otsu binarization. Huge frames are downscaled first.

Images are untrusted input: a decompression bomb (more than :data:`MAX_PIXELS` pixels), a
truncated file or a file that is no image gives a clean ``unreadable`` outcome with its reason,
never a crash.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
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
#: frames up to this size on their long side are also tried upscaled
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


def _passes(gray: npt.NDArray[np.uint8]) -> list[tuple[str, Callable[[], Any]]]:
    import cv2

    def unsharp(image: Any, sigma: float, amount: float) -> Any:
        return cv2.addWeighted(image, amount, cv2.GaussianBlur(image, (0, 0), sigma),
                               1 - amount, 0)

    def upscaled() -> Any:
        return cv2.resize(gray, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)

    def upscaled_sharpened() -> Any:
        return unsharp(upscaled(), 3.0, 1.8)

    def clahe() -> Any:
        return cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(gray)

    def sharpened() -> Any:
        return unsharp(gray, 2.0, 2.5)

    def otsu() -> Any:
        return cv2.threshold(cv2.GaussianBlur(gray, (3, 3), 0), 0, 255,
                             cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]

    passes: list[tuple[str, Callable[[], Any]]] = [("clahe", clahe), ("sharpened", sharpened)]
    if max(gray.shape) <= SMALL_SIDE:  # a code small in a modest frame: give it more pixels
        passes += [("upscaled", upscaled), ("upscaled-sharpened", upscaled_sharpened)]
    passes.append(("otsu", otsu))
    return passes


def decode_gray(gray: npt.NDArray[np.uint8]) -> list[Decoded]:
    """Every QR code zxing-cpp finds, trying the preprocessing passes until one finds some."""
    import cv2
    import numpy as np
    import zxingcpp

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

    texts = read(gray)
    if texts:
        return [Decoded(text, "direct") for text in texts]
    for name, prepare in _passes(gray):
        texts = read(prepare())
        if texts:
            return [Decoded(text, name) for text in texts]
    return []


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
