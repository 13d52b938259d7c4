"""QR symbols for label texts, with the size contract: version 6 or lower at level M by default.

A 15 mm decal on curved glaze carries a version-6 symbol (41 modules) with modules of at least
0.33 mm, so a text that would need a larger symbol is refused rather than printed too fine.

Two encoders are used, chosen by measurement (``benchmarks/bench_labels.py``): zint (inside
zxing-cpp's writer) and, only when its symbol comes out too large, the pure-Python ``qrcode``
library (about 40 per second), whose segment optimizer can still fit a text mixing alphanumeric
and numeric runs. Label texts of the format (an uppercase base followed by base32) are
alphanumeric throughout, so they always take the fast path.

Most of zint's time (about 0.6 of 0.8 ms per version-6 symbol here) goes into choosing the data
mask: it builds and scores all eight masked symbols one module at a time. :func:`encode_many` asks
zint for the symbol under mask 0 only (about 0.2 ms), derives the other seven from it (a mask flips
the data modules by a fixed pattern; the format bits name the mask) and scores all eight of a
whole batch at once on rows and columns packed into 64-bit words, with zint's own penalty rules
(ISO/IEC 18004 section 7.8.3), so it picks the mask zint would have picked: the symbols are bit
for bit the ones ``zxingcpp.create_barcode`` makes, for about a third of the CPU time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from jdzhi.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import Image

__all__ = [
    "DEFAULT_LEVEL",
    "MAX_VERSION",
    "QUIET_ZONE",
    "ErrorCorrection",
    "QrSymbol",
    "UnencodableText",
    "best_masked",
    "encode",
    "encode_many",
    "version_for_size",
]

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
    return encode_many([text], level=level, max_version=max_version)[0]


class UnencodableText(InvalidInput):
    """A text of a batch is empty or does not fit the version limit; ``index`` says which."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


def encode_many(
    texts: Sequence[str],
    *,
    level: ErrorCorrection | str = DEFAULT_LEVEL,
    max_version: int = MAX_VERSION,
) -> list[QrSymbol]:
    """:func:`encode` for each of ``texts``, in order, with the mask choice done for all at once.

    Raises :class:`UnencodableText` (an ``InvalidInput``) for the first text that is empty or
    does not fit, with its index.
    """
    import numpy as np

    try:
        ec = ErrorCorrection(str(level).upper())
    except ValueError:
        raise InvalidInput(f"error-correction level {level!r} is not one of L, M, Q, H") from None
    if not 1 <= max_version <= 40:
        raise InvalidInput(f"the largest QR version must be between 1 and 40, not {max_version}")
    symbols: list[QrSymbol | None] = [None] * len(texts)
    by_size: dict[int, list[tuple[int, npt.NDArray[np.bool_]]]] = {}
    for index, text in enumerate(texts):
        if not text:
            raise UnencodableText("a QR label text cannot be empty", index)
        modules = _zint_modules(text, ec, mask=0)
        if modules is not None and version_for_size(len(modules)) <= max_version:
            if len(modules) <= _WORD_SIDE:
                by_size.setdefault(len(modules), []).append((index, modules))
                continue
            modules = _zint_modules(text, ec, mask=None)  # too big for the word-packed scoring
            assert modules is not None
            symbols[index] = QrSymbol(text, version_for_size(len(modules)), ec, modules)
            continue
        # zint chose its modes for the smallest symbol; qrcode's segment optimizer may still fit
        symbol = _encode_qrcode(text, ec, max_version)
        if symbol is None or symbol.version > max_version:
            raise UnencodableText(
                f"label text of {len(text)} characters needs a QR symbol larger than version "
                f"{max_version} at level {ec.value}; shorten the label or lower the error "
                "correction", index)
        symbols[index] = symbol
    for size, group in by_size.items():
        for start in range(0, len(group), _MASK_BATCH):
            part = group[start:start + _MASK_BATCH]
            chosen = best_masked(np.stack([modules for _, modules in part]), ec)
            for (index, _), modules in zip(part, chosen, strict=True):
                symbols[index] = QrSymbol(texts[index], version_for_size(size), ec, modules)
    return [symbol for symbol in symbols if symbol is not None]


def _zint_modules(text: str, ec: ErrorCorrection, *, mask: int | None
                  ) -> npt.NDArray[np.bool_] | None:
    """zint's symbol for ``text`` (``mask``: the data mask, ``None`` for zint's choice)."""
    import numpy as np
    import zxingcpp

    options: dict[str, Any] = {"ec_level": ec.value}
    if mask is not None:
        options["data_mask"] = mask
    try:
        barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, **options)
    except ValueError:  # longer than any QR symbol can hold
        return None
    return np.asarray(np.asarray(barcode.to_image(scale=1, add_quiet_zones=False)) == 0,
                      dtype=bool)


# ---------------------------------------------------------------------------------------------
# choosing the data mask for a batch of symbols of one size, as zint does

#: symbols scored together: large enough to spread numpy's per-call cost, small enough to stay
#: in the processor's cache (measured: 256 costs half the time per symbol of 1,250)
_MASK_BATCH = 256
#: the largest symbol side scored on packed words: a row with 8 modules of padding fits 64 bits
_WORD_SIDE = 17 + 4 * 9
#: format-information bits for each error-correction level (the 2-bit indicator of the spec)
_LEVEL_BITS = {"L": 0b01, "M": 0b00, "Q": 0b11, "H": 0b10}


def _format_word(ec: ErrorCorrection, mask: int) -> int:
    """The 15-bit format information of ``ec`` and ``mask``: BCH(15,5), then XOR 0x5412."""
    data = _LEVEL_BITS[ec.value] << 3 | mask
    remainder = data << 10
    for bit in range(14, 9, -1):
        if remainder >> bit & 1:
            remainder ^= 0x537 << (bit - 10)
    return (data << 10 | remainder) ^ 0x5412


def _format_cells(size: int) -> list[tuple[int, int, int]]:
    """(row, column, bit) of both copies of the format information."""
    cells = [(i, 8, i) for i in range(6)]
    cells += [(8, size - 1 - i, i) for i in range(8)]
    cells += [(8, 5 - i, i + 9) for i in range(6)]
    cells += [(size - 7 + i, 8, i + 8) for i in range(7)]
    cells += [(7, 8, 6), (8, 8, 7), (8, 7, 8)]
    return cells


@lru_cache(maxsize=16)
def _mask_flips(size: int) -> npt.NDArray[np.bool_]:
    """For masks 0-7: the modules that differ from mask 0's symbol (data modules only)."""
    import numpy as np

    version = version_for_size(size)
    function = np.zeros((size, size), dtype=bool)
    for top, left in ((0, 0), (0, size - 8), (size - 8, 0)):  # finders with separators
        function[top:top + 8, left:left + 8] = True
    centres = alignment_centres(version)
    for row in centres:
        for col in centres:
            if not function[row, col]:  # alignment patterns never overlap the finders
                function[row - 2:row + 3, col - 2:col + 3] = True
    function[6, :] = function[:, 6] = True  # timing patterns
    function[8, :9] = function[:9, 8] = True  # format information
    function[8, size - 8:] = function[size - 8:, 8] = True
    if version >= 7:  # version information
        function[size - 11:size - 8, :6] = function[:6, size - 11:size - 8] = True
    i, j = np.mgrid[0:size, 0:size]
    patterns = np.stack([
        (i + j) % 2 == 0,
        i % 2 == 0,
        j % 3 == 0,
        (i + j) % 3 == 0,
        (i // 2 + j // 3) % 2 == 0,
        (i * j) % 2 + (i * j) % 3 == 0,
        ((i * j) % 2 + (i * j) % 3) % 2 == 0,
        ((i + j) % 2 + (i * j) % 3) % 2 == 0,
    ]) & ~function
    return np.asarray(patterns ^ patterns[0], dtype=bool)


def alignment_centres(version: int) -> list[int]:
    """Row (and column) centres of the alignment patterns (ISO/IEC 18004 annex E)."""
    if version == 1:
        return []
    count = version // 7 + 2
    size = 17 + 4 * version
    step = (version * 8 + count * 3 + 5) // (count * 4 - 4) * 2
    return [6, *sorted(size - 7 - k * step for k in range(count - 1))]


def best_masked(mask0: npt.NDArray[np.bool_], ec: ErrorCorrection) -> npt.NDArray[np.bool_]:
    """The symbols ``mask0`` (n, size, size; all under data mask 0) under the mask zint picks."""
    import numpy as np

    size = mask0.shape[-1]
    flips, format_cells, format_bits, keep, variants = _mask_tables(size, ec)
    # every candidate as packed rows and columns: mask 0's symbol without its format bits,
    # flipped by the mask and given its format bits (packing commutes with XOR)
    row_words = (_packed(mask0) & keep[0])[:, None, :] ^ variants[0][None]
    column_words = (_packed(mask0, columns=True) & keep[1])[:, None, :] ^ variants[1][None]
    best = np.argmin(_penalties(row_words, column_words, size), axis=1)  # first lowest, as zint
    chosen = mask0 ^ flips[best]
    chosen[:, format_cells[0], format_cells[1]] = format_bits[best]
    return np.asarray(chosen, dtype=bool)


@lru_cache(maxsize=32)
def _mask_tables(size: int, ec: ErrorCorrection) -> tuple[Any, ...]:
    """For symbols of ``size`` at ``ec``: the flips from mask 0 to each mask, the format cells
    and their bits per mask, and as packed (rows, columns): the words without the format cells
    and each mask's flips and format bits."""
    import numpy as np

    flips = _mask_flips(size)
    rows, cols, bits = (np.array(column) for column in zip(*_format_cells(size), strict=True))
    words = np.array([_format_word(ec, mask) for mask in range(8)])
    format_bits = (words[:, None] >> bits[None, :] & 1).astype(bool)  # (8, 30)
    formats = np.zeros((8, size, size), dtype=bool)
    formats[:, rows, cols] = format_bits
    cells = np.zeros((size, size), dtype=bool)
    cells[rows, cols] = True
    everything = np.uint64((1 << size) - 1)
    keep = tuple(~_packed(cells, columns=by_column) & everything for by_column in (False, True))
    variants = tuple(_packed(flips ^ formats, columns=by_column) for by_column in (False, True))
    return flips, (rows, cols), format_bits, keep, variants


def _penalties(rows: npt.NDArray[np.uint64], columns: npt.NDArray[np.uint64],
               size: int) -> npt.NDArray[np.int64]:
    """zint's mask penalty (ISO/IEC 18004 7.8.3) of symbols given as packed rows and columns."""
    import numpy as np

    penalty = _runs_and_finders(rows, size) + _runs_and_finders(columns, size)
    one = np.uint64(1)
    blocks = np.zeros(rows.shape[:-1], dtype=np.int64)  # 2 x 2 squares of one colour
    for same in (rows, ~rows & np.uint64((1 << size) - 1)):
        above, below = same[..., :-1], same[..., 1:]
        blocks += _count(above & above >> one & below & below >> one)
    dark = rows
    percentage = 100.0 * _count(dark) / (size * size)
    return np.asarray(penalty + 3 * blocks + 10 * (np.abs(percentage - 50.0) // 5.0)
                      .astype(np.int64), dtype=np.int64)


def _packed(symbols: npt.NDArray[np.bool_], *, columns: bool = False) -> npt.NDArray[np.uint64]:
    """Each row (or column) of modules as a 64-bit word, module ``k`` in bit ``k``."""
    import numpy as np

    # a matrix product in float64 is exact here: at most 53 distinct powers of two per sum
    weights = 2.0 ** np.arange(symbols.shape[-1])
    modules = symbols.astype(np.float64)
    words = weights @ modules if columns else modules @ weights
    return np.asarray(words.astype(np.uint64), dtype=np.uint64)


def _count(words: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """Set bits, summed over the last axis."""
    import numpy as np

    return np.asarray(np.bitwise_count(words).sum(axis=-1, dtype=np.int64), dtype=np.int64)


def _runs_and_finders(lines: npt.NDArray[np.uint64], size: int) -> npt.NDArray[np.int64]:
    """Penalties 1 and 3 along the packed lines: runs of five or more modules of one colour
    (``length - 2`` each) and finder-like 1011101 patterns with four light modules (or the
    symbol's edge) before or after them (40 each)."""
    import numpy as np

    def shifted(words: npt.NDArray[np.uint64], by: int) -> npt.NDArray[np.uint64]:
        return words >> np.uint64(by)  # module k + by moves to bit k

    dark, light = lines, ~lines & np.uint64((1 << size) - 1)
    penalty = np.zeros(lines.shape[:-1], dtype=np.int64)
    for same in (dark, light):
        fives = (same & shifted(same, 1) & shifted(same, 2) & shifted(same, 3)
                 & shifted(same, 4))
        starts = same & ~(same << np.uint64(1))
        penalty += _count(fives) + 2 * _count(fives & starts)  # a run of L: L - 4 fives, + 2
    finder = (dark & shifted(light, 1) & shifted(dark, 2) & shifted(dark, 3) & shifted(dark, 4)
              & shifted(light, 5) & shifted(dark, 6))
    # light modules with four more light ones beyond each edge, moved up by four bits
    edged = light << np.uint64(4) | np.uint64(0xF) | np.uint64(0xF << (size + 4))
    before = edged & shifted(edged, 1) & shifted(edged, 2) & shifted(edged, 3)
    after = shifted(edged, 11) & shifted(edged, 12) & shifted(edged, 13) & shifted(edged, 14)
    return penalty + 40 * _count(finder & (before | after))


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
