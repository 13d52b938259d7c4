"""QR symbols for label texts, with the size contract: version 6 or lower at level M by default.

A 15 mm decal on curved glaze carries a version-6 symbol (41 modules) with modules of at least
0.33 mm, so a text that would need a larger symbol is refused rather than printed too fine.

Two encoders are used, chosen by measurement (``benchmarks/bench_labels.py``): zxing-cpp's writer
(about 1,300 matrices per second here, but it puts the whole text in one mode) and, only when its
symbol comes out too large, the pure-Python ``qrcode`` library (about 40 per second), whose
segment optimizer can still fit a text mixing alphanumeric and numeric runs. Label texts of the
format (an uppercase base followed by base32) are alphanumeric throughout, so they always take
the fast path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from jdzhi.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import Image

#: the largest symbol a label may carry by default (41 x 41 modules)
MAX_VERSION = 6
#: modules of light margin the QR specification requires around a symbol
QUIET_ZONE = 4


class ErrorCorrection(StrEnum):
    """QR error-correction levels: the share of codewords that may be lost (7/15/25/30 %)."""

    L = "L"
    M = "M"
    Q = "Q"
    H = "H"


DEFAULT_LEVEL = ErrorCorrection.M


@dataclass(frozen=True, eq=False)
class QrSymbol:
    """One encoded symbol: ``modules[y, x]`` is True for a dark module (no quiet zone)."""

    text: str
    version: int
    level: ErrorCorrection
    modules: npt.NDArray[np.bool_] = field(repr=False)

    @property
    def size(self) -> int:
        """Modules per side, without the quiet zone (``17 + 4 * version``)."""
        return int(self.modules.shape[0])

    def to_image(self, *, scale: int = 1, quiet_zone: int = QUIET_ZONE) -> Image.Image:
        """A 1-bit PIL image, dark modules black, ``scale`` pixels per module."""
        import numpy as np
        from PIL import Image

        light = ~self.modules
        if quiet_zone:
            light = np.pad(light, quiet_zone, constant_values=True)
        if scale > 1:
            light = light.repeat(scale, axis=0).repeat(scale, axis=1)
        return Image.fromarray(light)  # a bool array becomes a mode "1" image

    def to_svg_path(self, *, origin: tuple[float, float] = (0.0, 0.0), module: float = 1.0) -> str:
        """SVG path data drawing the dark modules as horizontal runs (one path, no gaps)."""
        x0, y0 = origin
        parts: list[str] = []
        for y, row in enumerate(self.modules.tolist()):
            x = 0
            while x < len(row):
                if row[x]:
                    start = x
                    while x < len(row) and row[x]:
                        x += 1
                    parts.append(
                        f"M{x0 + start * module:g} {y0 + y * module:g}h{(x - start) * module:g}"
                        f"v{module:g}h{-(x - start) * module:g}z"
                    )
                else:
                    x += 1
        return "".join(parts)


def version_for_size(size: int) -> int:
    return (size - 17) // 4


def encode(
    text: str,
    *,
    level: ErrorCorrection | str = DEFAULT_LEVEL,
    max_version: int = MAX_VERSION,
) -> QrSymbol:
    """Encode ``text`` as the smallest QR symbol at ``level``; refuse one above ``max_version``.

    >>> encode("HTTPS://TRACE.EXAMPLE.CN/V/ABC").version
    2
    """
    try:
        ec = ErrorCorrection(str(level).upper())
    except ValueError:
        raise InvalidInput(f"error-correction level {level!r} is not one of L, M, Q, H") from None
    if not 1 <= max_version <= 40:
        raise InvalidInput(f"the largest QR version must be between 1 and 40, not {max_version}")
    if not text:
        raise InvalidInput("a QR label text cannot be empty")
    symbol = _encode_zxing(text, ec)
    if symbol is None or symbol.version > max_version:
        # zxing-cpp uses a single mode; qrcode's segment optimizer may still fit the text
        symbol = _encode_qrcode(text, ec, max_version)
    if symbol is None or symbol.version > max_version:
        raise InvalidInput(
            f"label text of {len(text)} characters needs a QR symbol larger than version "
            f"{max_version} at level {ec.value}; shorten the label or lower the error correction"
        )
    return symbol


def _encode_zxing(text: str, ec: ErrorCorrection) -> QrSymbol | None:
    import numpy as np
    import zxingcpp

    try:
        barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level=ec.value)
    except ValueError:  # longer than any QR symbol can hold
        return None
    modules = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False)) == 0
    return QrSymbol(text=text, version=version_for_size(modules.shape[0]), level=ec,
                    modules=modules)


_QRCODE_LEVELS = {"L": 1, "M": 0, "Q": 3, "H": 2}  # qrcode.constants.ERROR_CORRECT_*


def _encode_qrcode(text: str, ec: ErrorCorrection, max_version: int) -> QrSymbol | None:
    import numpy as np
    import qrcode
    from qrcode.exceptions import DataOverflowError

    qr = qrcode.QRCode(version=None, error_correction=_QRCODE_LEVELS[ec.value], border=0)
    qr.add_data(text, optimize=3)
    try:
        qr.make(fit=True)
    except (DataOverflowError, ValueError):
        return None
    modules = np.array(qr.get_matrix(), dtype=bool)
    return QrSymbol(text=text, version=int(qr.version), level=ec, modules=modules)
