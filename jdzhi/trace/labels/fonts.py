"""The CJK font labels are set in: Noto Sans SC (SIL Open Font License 1.1).

The font comes from the PyPI package ``pylopdf-fonts-zh-cn`` (a plain wheel of the Noto Sans SC and
Noto Serif SC OpenType files and their OFL licence), so Chinese renders on a machine with no system
fonts. Noto Sans SC has PostScript (CFF) outlines, which Pillow draws directly but which ReportLab
cannot embed; for PDFs :func:`pdf_font_file` subsets the font to the characters a job needs with
fontTools and converts the outlines to TrueType quadratics (the conversion fontTools' own
``otf2ttf`` recipe performs), and ReportLab then embeds that small font, subset again per page.

That subsetting costs over a second (fontTools parses the whole CFF), and reading the font's
advance widths half a second, so both results are kept in a cache folder (``JDZHI_CACHE_DIR``,
else the platform's user cache folder: :func:`jdzhi.home.cache_dir`), one file per font file
hash, recipe and character set. A cache file carries the SHA-256 of its content and is written
to a temporary name and renamed into place; one that is damaged, truncated or unreadable is
ignored and made again. Nothing breaks without the cache: a folder that cannot be written just
costs the time.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import InvalidInput
from jdzhi.home import cache_dir

if TYPE_CHECKING:
    from fontTools.ttLib import TTFont

__all__ = [
    "CACHE_FILES",
    "FONT_FAMILY",
    "font_path",
    "full_font",
    "missing_characters",
    "pdf_font_file",
    "svg_text_path",
    "text_width",
]

FONT_FAMILY = "Noto Sans SC"


def font_path() -> Path:
    """The Noto Sans SC OpenType file installed with jdzhi."""
    try:
        import pylopdf_fonts_zh_cn
    except ImportError:  # pragma: no cover - a broken install
        raise InvalidInput(
            "the CJK label font is missing: reinstall jdzhi (it needs pylopdf-fonts-zh-cn)"
        ) from None
    return Path(pylopdf_fonts_zh_cn.sans_path())


@lru_cache(maxsize=1)
def full_font() -> TTFont:
    """The whole font, loaded lazily (tables are parsed on first use)."""
    from fontTools.ttLib import TTFont

    return TTFont(font_path(), lazy=True)


def missing_characters(text: str) -> str:
    """The characters of ``text`` the font has no glyph for (the space excepted)."""
    cmap = _advances()
    return "".join(sorted({ch for ch in text if ch != " " and ord(ch) not in cmap}))


#: cache files kept; the least recently used beyond this are removed
CACHE_FILES = 64
#: bump when :func:`_subset_font` changes what it makes, so older cache files are not used
_RECIPE = 2


@lru_cache(maxsize=8)
def pdf_font_file(characters: str) -> bytes:
    """A TrueType-outline font holding just ``characters`` (plus ASCII), for ReportLab.

    Read from the cache when a sound copy is there, else made and cached.
    """
    path = _cache_path("ttf", characters)
    cached = _read_cached(path)
    if cached is not None:
        return cached
    data = _subset_font(characters)
    _write_cached(path, data)
    return data


@lru_cache(maxsize=1)
def _font_hash() -> str:
    import hashlib

    with font_path().open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _cache_path(extension: str, characters: str = "") -> Path:
    """The cache file of what is made from the font (and ``characters``) by this recipe."""
    import hashlib

    from fontTools import version as fonttools_version

    key = hashlib.sha256(f"{_font_hash()}\0{fonttools_version}\0{_RECIPE}\0{extension}\0"
                         f"{characters}".encode()).hexdigest()
    return cache_dir() / "fonts" / f"{key[:40]}.{extension}"


def _read_cached(path: Path) -> bytes | None:
    """The font in a cache file, or None when it is missing or not sound."""
    import hashlib

    try:
        stored = path.read_bytes()
    except OSError:
        return None
    digest, data = stored[:32], stored[32:]
    if len(digest) < 32 or hashlib.sha256(data).digest() != digest:
        return None
    try:
        path.touch()  # recently used: kept by the pruning
    except OSError:
        pass
    return data


def _write_cached(path: Path, data: bytes) -> None:
    """Cache ``data`` atomically (a temporary file renamed into place); failures are ignored."""
    import contextlib
    import hashlib

    from jdzhi.files import replace_atomically

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(path, hashlib.sha256(data).digest() + data, durable=False)
    except (OSError, InvalidInput):
        return
    with contextlib.suppress(OSError):
        entries = sorted((entry for entry in path.parent.iterdir()
                          if entry.suffix in (".ttf", ".metrics")),
                         key=lambda entry: entry.stat().st_mtime, reverse=True)
        for stale in entries[CACHE_FILES:]:
            stale.unlink(missing_ok=True)


def _subset_font(characters: str) -> bytes:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(font_path(), lazy=True, recalcTimestamp=False)  # the same bytes each time
    options = subset.Options()
    options.layout_features = []
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.desubroutinize = True
    options.drop_tables = [*options.drop_tables, "GSUB", "GPOS", "GDEF", "BASE", "VORG"]
    subsetter = subset.Subsetter(options)
    ascii_printable = "".join(chr(code) for code in range(0x20, 0x7F))
    subsetter.populate(text=ascii_printable + characters)
    subsetter.subset(font)
    _cff_to_truetype(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _cff_to_truetype(font: TTFont) -> None:
    """Replace the CFF outlines by quadratic TrueType ones (fontTools' otf2ttf recipe)."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    glyph_order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs: dict[str, Any] = {}
    for name in glyph_order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = glyph_order
    glyf.glyphs = glyphs
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    glyf.compile(font)
    hmtx = font["hmtx"]
    for name, glyph in glyphs.items():
        if hasattr(glyph, "xMin"):
            hmtx[name] = (hmtx[name][0], glyph.xMin)
    maxp = font["maxp"] = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for attribute in ("maxZones",):
        setattr(maxp, attribute, 1)
    for attribute in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs",
                      "maxInstructionDefs", "maxStackElements", "maxSizeOfInstructions",
                      "maxComponentElements"):
        setattr(maxp, attribute, 0)
    maxp.compile(font)
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = glyph_order
    font.sfntVersion = "\x00\x01\x00\x00"


def svg_text_path(text: str, *, x: float, y: float, size: float) -> str:
    """SVG path data for ``text`` set at baseline ``(x, y)`` with em size ``size`` (no kerning).

    Glyphs become outlines, so the SVG needs no font on the machine that opens it.
    """
    from fontTools.pens.svgPathPen import SVGPathPen
    from fontTools.pens.transformPen import TransformPen

    font = full_font()
    cmap = font.getBestCmap()
    glyph_set = font.getGlyphSet()
    scale = size / font["head"].unitsPerEm
    parts: list[str] = []
    cursor = x
    for ch in text:
        name = cmap.get(ord(ch), ".notdef")
        svg_pen = SVGPathPen(glyph_set, ntos=lambda value: f"{value:.2f}".rstrip("0").rstrip("."))
        glyph_set[name].draw(TransformPen(svg_pen, (scale, 0, 0, -scale, cursor, y)))
        parts.append(svg_pen.getCommands())
        cursor += glyph_set[name].width * scale
    return "".join(parts)


def text_width(text: str, size: float) -> float:
    """The advance width of ``text`` at em size ``size``, in the same unit as ``size``."""
    advances = _advances()
    missing = advances[_MISSING]
    units = sum([advances.get(ord(ch), missing) for ch in text])
    return units * size / _units_per_em()


_MISSING, _UNITS_PER_EM = -1, -2


@lru_cache(maxsize=1)
def _advances() -> dict[int, int]:
    """Advance widths by code point (``-1``: the missing glyph; ``-2``: units per em).

    Parsing them from the CJK font takes about half a second, so they are cached like the
    prepared fonts: (code point, advance) pairs as 32-bit integers.
    """
    from array import array

    path = _cache_path("metrics")
    cached = _read_cached(path)
    if cached is not None and len(cached) % 8 == 0:
        pairs = array("i")
        pairs.frombytes(cached)
        return dict(zip(pairs[0::2], pairs[1::2], strict=True))
    font = full_font()
    metrics = font["hmtx"].metrics
    advances = {code: metrics[name][0] for code, name in font.getBestCmap().items()}
    advances[_MISSING] = metrics[".notdef"][0]
    advances[_UNITS_PER_EM] = int(font["head"].unitsPerEm)
    _write_cached(path, array("i", [value for pair in advances.items() for value in pair])
                  .tobytes())
    return advances


def _units_per_em() -> int:
    return _advances()[_UNITS_PER_EM]
