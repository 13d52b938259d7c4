"""Finding and decoding the QR codes in photos, then verifying each one.

zxing-cpp reads most phone photos as they are. When it finds nothing, the rescue passes
(:mod:`jdzhi.trace.scanning._rescue`) look where a symbol may be, clean up that crop (light
evened, blur undone) and, failing that, fit the symbol's module grid to the photo and read
it module by module; a label bent further round a body than that grid follows is then
unwrapped as a cylinder. Huge frames are downscaled first.

Images are untrusted input (opened by :func:`jdzhi.images.load_gray`): a decompression bomb, a
truncated file or a file that is no image gives a clean ``unreadable`` outcome with its reason,
never a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import InvalidInput
from jdzhi.images import UnreadableImage, load_gray
from jdzhi.trace.scanning._finders import cylinder_unwraps

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from jdzhi.trace.trust.model import Trust
    from jdzhi.trace.verification.result import VerificationResult

__all__ = [
    "CYLINDER_PASS",
    "SUSPECTED_CLONE",
    "UNREADABLE",
    "WORKING_SIDE",
    "Decoded",
    "ScanOutcome",
    "check_images",
    "decode_gray",
    "decode_image",
    "scan_photo",
]


#: frames larger than this on their long side are downscaled before decoding
WORKING_SIDE = 2400




UNREADABLE = "unreadable"


SUSPECTED_CLONE = "suspected-clone"


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
    #: the verification of ``text`` (None when no code was read); ``verdict`` above may differ:
    #: a suspected clone, or the center's verdict
    verification: VerificationResult | None = field(default=None, compare=False)

    @property
    def genuine(self) -> bool:
        return self.verdict == "genuine"


def decode_gray(gray: npt.NDArray[np.uint8]) -> list[Decoded]:
    """Every QR code found in ``gray``: by zxing-cpp as it is, else by the first rescue pass
    that reads one."""
    import cv2
    import numpy as np
    import zxingcpp

    from jdzhi.trace.scanning._rescue import rescue

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


CYLINDER_PASS = "cylinder"


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
    from jdzhi.trace.verification.verifier import verify_label_text

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
            decode_pass=decoded.pass_name, verification=result,
        ))
    return outcomes
