"""QR traceability labels: print-ready PDF sheets, or one PNG or SVG per label.

Each label shows the QR code of the record's label text, the mark **景德镇制 Jingdezhen Zhi**,
the enterprise's short name, the serial and the category. One layout (in millimetres, computed by
:func:`layout`) feeds the three renderers, so a PDF, a PNG and an SVG of a label look the same.

Everything is checked before anything is written: every line of the SIGNED.jsonl file, every QR
symbol against the version limit, every output path (existing files are never overwritten). The
PDF is written to a temporary file and renamed into place, so a failure leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import Conflict, InvalidInput
from jdzhi.files import NewFile, write_new
from jdzhi.inputs import parse_json, read_jsonl_lines
from jdzhi.trace.labels.qr import DEFAULT_LEVEL, MAX_VERSION, QUIET_ZONE, ErrorCorrection, QrSymbol

if TYPE_CHECKING:
    from PIL import Image

MARK_ZH = "景德镇制"
MARK_EN = "Jingdezhen Zhi"
MM_PER_INCH = 25.4
POINTS_PER_MM = 72 / MM_PER_INCH

#: page sizes in millimetres (width, height), portrait
PAGE_SIZES: dict[str, tuple[float, float]] = {
    "a4": (210.0, 297.0),
    "a5": (148.0, 210.0),
    "a3": (297.0, 420.0),
    "letter": (215.9, 279.4),
}

Progress = Callable[[int], None]


class ImageFormat(StrEnum):
    PNG = "png"
    SVG = "svg"


@dataclass(frozen=True)
class LabelData:
    """What one label shows; ``text`` is the exact QR text (the record's ``label``)."""

    serial: str
    text: str
    enterprise: str
    category: str


@dataclass(frozen=True)
class SheetSpec:
    """The geometry of labels and sheets, in millimetres (``dpi`` is for PNG output)."""

    label_width: float = 50.0
    label_height: float = 25.0
    page: str = "a4"
    margin: float = 10.0
    gap: float = 2.0
    columns: int | None = None
    rows: int | None = None
    dpi: int = 600
    level: ErrorCorrection = DEFAULT_LEVEL
    max_version: int = MAX_VERSION

    @property
    def page_size(self) -> tuple[float, float]:
        return PAGE_SIZES[self.page]

    def grid(self) -> tuple[int, int]:
        """Columns and rows per page; checks that they fit the page."""
        page_w, page_h = self.page_size
        usable_w, usable_h = page_w - 2 * self.margin, page_h - 2 * self.margin
        fit_cols = int((usable_w + self.gap) // (self.label_width + self.gap))
        fit_rows = int((usable_h + self.gap) // (self.label_height + self.gap))
        columns = self.columns if self.columns is not None else fit_cols
        rows = self.rows if self.rows is not None else fit_rows
        if columns < 1 or rows < 1 or columns > fit_cols or rows > fit_rows:
            raise InvalidInput(
                f"{columns} x {rows} labels of {self.label_width:g} x {self.label_height:g} mm "
                f"do not fit a {self.page.upper()} page with {self.margin:g} mm margins and "
                f"{self.gap:g} mm gaps (at most {fit_cols} x {fit_rows})"
            )
        return columns, rows

    def check(self) -> None:
        if self.page not in PAGE_SIZES:
            raise InvalidInput(
                f"page size {self.page!r} is not one of {', '.join(sorted(PAGE_SIZES))}")
        for name, value, low, high in (("label width", self.label_width, 10, 300),
                                       ("label height", self.label_height, 8, 300),
                                       ("margin", self.margin, 0, 100),
                                       ("gap", self.gap, 0, 100)):
            if not low <= value <= high:
                raise InvalidInput(f"{name} {value:g} mm is outside {low}-{high} mm")
        if not 72 <= self.dpi <= 2400:
            raise InvalidInput(f"dpi {self.dpi} is outside 72-2400")
        if self.label_width - self.label_height < 12:
            raise InvalidInput(
                f"a {self.label_width:g} x {self.label_height:g} mm label leaves no room for "
                "the text beside the QR code: make it at least 12 mm wider than high"
            )


@dataclass(frozen=True)
class TextLine:
    text: str
    x: float  # left edge, mm from the label's left
    baseline: float  # mm from the label's top
    size: float  # em size in mm


@dataclass(frozen=True)
class LabelLayout:
    qr_x: float
    qr_y: float
    qr_side: float  # including the quiet zone
    lines: tuple[TextLine, ...]


#: the index of the serial line in :attr:`LabelLayout.lines` (the one line unique to a label)
SERIAL_LINE = 3


def layout(label: LabelData, spec: SheetSpec) -> LabelLayout:
    """Where the QR code and each line of text go on one label (mm, origin top left)."""
    static = _static_layout(label.enterprise, label.category, spec)
    lines = list(static.lines)
    lines[SERIAL_LINE] = _fitted_line(f"No. {label.serial}", SERIAL_LINE, spec)
    return LabelLayout(static.qr_x, static.qr_y, static.qr_side, tuple(lines))


#: (em size, baseline) of each line, as shares of the label height
_LINE_METRICS = ((0.19, 0.23), (0.105, 0.40), (0.105, 0.56), (0.105, 0.72), (0.105, 0.88))


def _geometry(spec: SheetSpec) -> tuple[float, float, float]:
    """Padding, QR side (quiet zone included) and the left edge of the text column, in mm."""
    pad = spec.label_height * 0.04
    qr_side = spec.label_height - 2 * pad
    return pad, qr_side, pad + qr_side + spec.label_height * 0.02


def _fitted_line(text: str, index: int, spec: SheetSpec) -> TextLine:
    from jdzhi.trace.labels.fonts import text_width

    pad, _, text_x = _geometry(spec)
    share, baseline = _LINE_METRICS[index]
    room = spec.label_width - text_x - pad
    size = spec.label_height * share
    measured = text_width(text, size)
    if measured > room:
        size *= room / measured  # shrink a long line to fit rather than clip it
    return TextLine(text, text_x, spec.label_height * baseline, size)


@lru_cache(maxsize=256)
def _static_layout(enterprise: str, category: str, spec: SheetSpec) -> LabelLayout:
    pad, qr_side, _ = _geometry(spec)
    texts = (MARK_ZH, MARK_EN, enterprise, "No.", category)
    lines = tuple(_fitted_line(text, index, spec) for index, text in enumerate(texts))
    return LabelLayout(qr_x=pad, qr_y=pad, qr_side=qr_side, lines=lines)


# ---------------------------------------------------------------------------------------------
# reading SIGNED.jsonl


def read_signed(path: Path) -> list[LabelData]:
    """The labels of a SIGNED.jsonl file (``serial``, ``label``, enterprise and category fields)."""
    labels: list[LabelData] = []
    seen: set[str] = set()
    for number, line in read_jsonl_lines(path):
        try:
            entry = parse_json(line)
        except json.JSONDecodeError:
            raise InvalidInput(f"{path} line {number}: not a JSON object") from None
        if not isinstance(entry, dict):
            raise InvalidInput(f"{path} line {number}: not a JSON object")
        label = _label_from_entry(entry, f"{path} line {number}")
        if label.serial in seen:
            raise InvalidInput(f"{path} line {number}: serial {label.serial} appears twice")
        seen.add(label.serial)
        labels.append(label)
    if not labels:
        raise InvalidInput(f"{path} holds no records")
    return labels


def _label_from_entry(entry: dict[str, Any], where: str) -> LabelData:
    def text_field(*names: str) -> str:
        for name in names:
            value = entry.get(name)
            if isinstance(value, str) and value.strip():
                return value.strip()
        raise InvalidInput(f"{where}: missing text field {names[0]!r}")

    fields = {name: text_field(*names) for name, names in (
        ("serial", ("serial",)),
        ("text", ("label",)),
        ("enterprise", ("enterprise_short_name", "enterprise")),
        ("category", ("category_name_zh", "category_name", "category")),
    )}
    for name, value in fields.items():
        limit = 1000 if name == "text" else 64
        if len(value) > limit or not value.isprintable():
            raise InvalidInput(f"{where}: the {name} must be one line of printable text of at "
                               f"most {limit} characters")
    return LabelData(**fields)


# ---------------------------------------------------------------------------------------------
# rendering


@dataclass(frozen=True)
class LabelRun:
    """What :func:`render_labels` wrote."""

    out: Path
    kind: str  # "pdf", "png" or "svg"
    labels: int
    pages: int
    files: tuple[Path, ...]
    max_version: int
    level: str

    def to_json(self) -> dict[str, Any]:
        return {"out": str(self.out), "format": self.kind, "labels": self.labels,
                "pages": self.pages, "files": [str(f) for f in self.files],
                "max_qr_version": self.max_version, "level": self.level}


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def file_name_for(serial: str, extension: str) -> str:
    """The file name of one label: the serial, with anything unsafe in a path replaced by ``_``."""
    stem = _SAFE_NAME.sub("_", serial).lstrip(".") or "_"
    return f"{stem}.{extension}"


def check_glyphs(labels: Sequence[LabelData]) -> None:
    """Refuse text the label font cannot show (it would print as empty boxes)."""
    from jdzhi.trace.labels.fonts import missing_characters

    missing = missing_characters("".join(f"{lab.enterprise}{lab.category}{lab.serial}"
                                         for lab in labels))
    if missing:
        raise InvalidInput(f"the label font has no glyph for {missing!r}")


def encode_labels(labels: Sequence[LabelData], spec: SheetSpec,
                  progress: Progress | None = None, *, parallel: bool = False
                  ) -> list[QrSymbol]:
    """The QR symbol of every label; refuses any above the version limit (names the serial)."""
    symbols = []
    for symbol in iter_symbols(labels, spec, parallel=parallel):
        symbols.append(symbol)
        if progress is not None:
            progress(1)
    return symbols


def iter_symbols(labels: Sequence[LabelData], spec: SheetSpec, *,
                 parallel: bool) -> Iterator[QrSymbol]:
    """The QR symbols in order; with ``parallel``, a big batch is encoded by worker processes
    meanwhile (:mod:`jdzhi.parallel`: ``JDZHI_WORKERS`` sets their number), so that on two
    cores the workers encode ahead while this process writes the PDF."""
    from jdzhi.parallel import map_chunks

    jobs = [(label.serial, label.text) for label in labels]
    yield from map_chunks(_encode_chunk, (spec.level, spec.max_version), jobs,
                          preload="jdzhi.trace.labels.sheets", parallel=parallel)


def _encode_chunk(context: tuple[ErrorCorrection, int],
                  job: Sequence[tuple[str, str]]) -> list[QrSymbol]:
    from jdzhi.trace.labels.qr import UnencodableText, encode_many

    level, max_version = context
    try:
        return encode_many([text for _, text in job], level=level, max_version=max_version)
    except UnencodableText as error:
        raise InvalidInput(f"serial {job[error.index][0]}: {error.message}") from None


def render_labels(
    labels: Sequence[LabelData],
    out: Path,
    *,
    spec: SheetSpec | None = None,
    image_format: ImageFormat = ImageFormat.PNG,
    progress: Progress | None = None,
    parallel: bool = False,
) -> LabelRun:
    """Render ``labels`` to ``out``: a ``.pdf`` file of sheets, else a directory of images.

    ``progress`` is called with counts of labels done (for images: encoded, then drawn);
    ``parallel`` encodes a big batch on every core (:mod:`jdzhi.parallel`).
    """
    spec = spec or SheetSpec()
    spec.check()
    if not labels:
        raise InvalidInput("no labels to render")
    is_pdf = out.suffix.lower() == ".pdf"
    if is_pdf:
        spec.grid()
        if out.exists():
            raise Conflict(f"{out} exists; choose another output (jdzhi never overwrites)")
        if not out.parent.is_dir():
            raise InvalidInput(f"the folder {out.parent} does not exist")
        targets: list[Path] = []
    else:
        if out.exists() and not out.is_dir():
            raise Conflict(f"{out} exists and is not a folder")
        targets = [out / file_name_for(label.serial, image_format.value) for label in labels]
        if len(set(targets)) != len(targets):
            raise InvalidInput("two serials map to the same file name; use a PDF instead")
        existing = [t for t in targets if t.exists()]
        if existing:
            raise Conflict(f"{existing[0]} exists ({len(existing)} label files in all); "
                           "jdzhi never overwrites: choose an empty folder")
    check_glyphs(labels)
    if is_pdf:
        versions: list[int] = []

        def noting_versions() -> Generator[QrSymbol, None, None]:
            for symbol in iter_symbols(labels, spec, parallel=parallel):
                versions.append(symbol.version)
                yield symbol

        # closing: an error or Ctrl-C while drawing stops the workers before it propagates
        with contextlib.closing(noting_versions()) as stream:
            # start the encoders now, so that they work while write_pdf prepares the font
            first = next(stream)
            pages = write_pdf(labels, itertools.chain([first], stream), out, spec, progress)
        return LabelRun(out, "pdf", len(labels), pages, (out,), max(versions),
                        spec.level.value)
    symbols = encode_labels(labels, spec, progress, parallel=parallel)
    top_version = max(symbol.version for symbol in symbols)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidInput(f"cannot create the folder {out}: {error.strerror}") from None
    for label, symbol, target in zip(labels, symbols, targets, strict=True):
        if image_format is ImageFormat.SVG:
            data = label_svg(label, symbol, spec).encode("utf-8")
        else:
            data = _png_bytes(label_image(label, symbol, spec), spec.dpi)
        write_new(target, data, durable=False)  # one of many, made again from SIGNED.jsonl
        if progress is not None:
            progress(1)
    return LabelRun(out, image_format.value, len(labels), 0, tuple(targets), top_version,
                    spec.level.value)


def write_pdf(labels: Sequence[LabelData], symbols: Iterable[QrSymbol], out: Path,
              spec: SheetSpec, progress: Progress | None = None) -> int:
    """Write the sheets; returns the number of pages."""
    import io

    from reportlab import rl_config
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    from jdzhi.trace.labels.fonts import pdf_font_file

    characters = "".join(sorted({
        ch for label in labels
        for ch in f"{MARK_ZH}{label.enterprise}{label.category}{label.serial}"}))
    font_name = "JdzhiNotoSansSC"
    pdfmetrics.registerFont(TTFont(font_name, io.BytesIO(pdf_font_file(characters))))
    columns, rows = spec.grid()
    page_w, page_h = spec.page_size
    per_page = columns * rows
    # centre the grid across the page
    x_offset = (page_w - columns * spec.label_width - (columns - 1) * spec.gap) / 2
    output = NewFile(out)  # reportlab writes its temporary file by name
    pdf = canvas.Canvas(str(output.temporary),
                        pagesize=(page_w * POINTS_PER_MM, page_h * POINTS_PER_MM),
                        pageCompression=1, invariant=1)
    pdf.setTitle("Jingdezhen Zhi traceability labels")
    pdf.setCreator("jdzhi")
    pages = 0
    forms: dict[tuple[str, str], str] = {}
    font = pdfmetrics.getFont(font_name)
    saved_a85 = rl_config.useA85
    rl_config.useA85 = 0  # binary streams: ASCII85 in pure Python would cost more than drawing
    cleanup = contextlib.ExitStack()
    try:
        cleanup.enter_context(output)
        for index, (label, symbol) in enumerate(zip(labels, symbols, strict=True)):
            slot = index % per_page
            if slot == 0 and index:
                pdf.showPage()
            if slot == 0:
                pages += 1
            col, row = slot % columns, slot // columns
            left = (x_offset + col * (spec.label_width + spec.gap)) * POINTS_PER_MM
            bottom = (page_h - spec.margin - row * (spec.label_height + spec.gap)
                      - spec.label_height) * POINTS_PER_MM
            place = _static_layout(label.enterprise, label.category, spec)
            # the lines every label of an enterprise and category shares: drawn once, as a form
            form = forms.get((label.enterprise, label.category))
            if form is None:
                form = forms[(label.enterprise, label.category)] = f"L{len(forms)}"
                pdf.beginForm(form)
                for index, line in enumerate(place.lines):
                    if index != SERIAL_LINE:
                        _draw_line(pdf, font_name, line, spec)
                pdf.endForm()
            # the page operators of a label are written directly: reportlab's drawString and
            # saveState cost more than the rest of a label (benchmarks/bench_labels.py)
            # (pdf._code is looked up each time: forms and pages swap the list)
            pdf._code.append(f"q 1 0 0 1 {left:.3f} {bottom:.3f} cm")
            pdf.doForm(form)
            side = place.qr_side * POINTS_PER_MM
            pdf._code.append(" ".join((
                _text_operators(pdf, font, _fitted_line(f"No. {label.serial}", SERIAL_LINE,
                                                        spec), spec),
                _inline_image(  # reportlab has no inline-image API
                    symbol, place.qr_x * POINTS_PER_MM,
                    (spec.label_height - place.qr_y) * POINTS_PER_MM - side, side),
                "Q")))
            if progress is not None:
                progress(1)
        pdf.save()
        output.publish()
    except OSError as error:
        raise InvalidInput(f"cannot write {out}: {error.strerror}") from None
    finally:
        rl_config.useA85 = saved_a85
        cleanup.close()
    return pages


def _draw_line(pdf: Any, font_name: str, line: TextLine, spec: SheetSpec) -> None:
    pdf.setFont(font_name, line.size * POINTS_PER_MM)
    pdf.drawString(line.x * POINTS_PER_MM, (spec.label_height - line.baseline) * POINTS_PER_MM,
                   line.text)


def _text_operators(pdf: Any, font: Any, line: TextLine, spec: SheetSpec) -> str:
    """PDF operators showing one line of text, as reportlab's drawString writes them for a
    TrueType font (its font subsets, its string escaping) without its text-object machinery."""
    size = line.size * POINTS_PER_MM
    shown = "".join(
        f"{font.getSubsetInternalName(subset, pdf._doc)} {size:.3f} Tf "
        f"({pdf._escape(chunk)}) Tj " for subset, chunk in font.splitString(line.text, pdf._doc))
    return (f"BT 1 0 0 1 {line.x * POINTS_PER_MM:.3f} "
            f"{(spec.label_height - line.baseline) * POINTS_PER_MM:.3f} Tm {shown}ET")


def _inline_image(symbol: QrSymbol, x: float, y: float, side: float) -> str:
    """PDF operators drawing the symbol as a 1-bit inline image (white 1, black 0) at x, y.

    An inline image in the page's compressed content stream is the cheapest way to place tens
    of thousands of small distinct bitmaps; each is under 1 KB, far below the 4 KB PDF readers
    expect at most for inline images.
    """
    import numpy as np

    size = symbol.size + 2 * QUIET_ZONE
    light = np.ones((size, size), dtype=bool)
    light[QUIET_ZONE:-QUIET_ZONE, QUIET_ZONE:-QUIET_ZONE] = ~symbol.modules
    data = np.packbits(light, axis=1).tobytes().hex()
    return (f"q {side:.3f} 0 0 {side:.3f} {x:.3f} {y:.3f} cm "
            f"BI /W {size} /H {size} /BPC 1 /CS /G /F /AHx ID {data}> EI Q")


def label_image(label: LabelData, symbol: QrSymbol, spec: SheetSpec) -> Image.Image:
    """One label as a grayscale PIL image at ``spec.dpi``."""
    from PIL import Image, ImageDraw

    px = spec.dpi / MM_PER_INCH
    place = layout(label, spec)
    image = Image.new("L", (round(spec.label_width * px), round(spec.label_height * px)), 255)
    modules = symbol.size + 2 * QUIET_ZONE
    scale = max(1, int(place.qr_side * px // modules))  # whole pixels per module: crisp edges
    qr = symbol.to_image(scale=scale)
    offset = round((place.qr_side * px - qr.width) / 2)
    image.paste(qr.convert("L"), (round(place.qr_x * px) + offset, round(place.qr_y * px) + offset))
    draw = ImageDraw.Draw(image)
    for line in place.lines:
        draw.text((line.x * px, line.baseline * px), line.text, fill=0,
                  font=_pil_font(round(line.size * px)), anchor="ls")
    return image


def _pil_font(size: int) -> Any:
    from PIL import ImageFont

    from jdzhi.trace.labels.fonts import font_path

    font = _FONT_CACHE.get(size)
    if font is None:
        # the basic layout engine: no shaping is needed for Chinese and Latin, and it cannot
        # fail on odd input the way a shaping library may
        font = _FONT_CACHE[size] = ImageFont.truetype(str(font_path()), max(size, 1),
                                                      layout_engine=ImageFont.Layout.BASIC)
    return font


_FONT_CACHE: dict[int, Any] = {}


def _png_bytes(image: Image.Image, dpi: int) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", dpi=(dpi, dpi), optimize=False)
    return buffer.getvalue()


def label_svg(label: LabelData, symbol: QrSymbol, spec: SheetSpec) -> str:
    """One label as a self-contained SVG (text as outlines: no font needed to view it)."""
    from xml.sax.saxutils import escape

    from jdzhi.trace.labels.fonts import svg_text_path

    place = layout(label, spec)
    module = place.qr_side / (symbol.size + 2 * QUIET_ZONE)
    origin = (place.qr_x + QUIET_ZONE * module, place.qr_y + QUIET_ZONE * module)
    text_paths = "".join(
        f'<path d="{svg_text_path(line.text, x=line.x, y=line.baseline, size=line.size)}"/>'
        for line in place.lines
    )
    w, h = spec.label_width, spec.label_height
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:g}mm" height="{h:g}mm" '
        f'viewBox="0 0 {w:g} {h:g}">'
        f"<title>{escape(MARK_ZH)} {escape(MARK_EN)} {escape(label.serial)}</title>"
        f'<desc>{escape(label.text)}</desc>'
        f'<rect width="{w:g}" height="{h:g}" fill="#fff"/>'
        f'<path fill="#000" shape-rendering="crispEdges" '
        f'd="{symbol.to_svg_path(origin=origin, module=module)}"/>'
        f'<g fill="#000">{text_paths}</g></svg>\n'
    )


def label_file(signed: Path, out: Path, *, spec: SheetSpec | None = None,
               image_format: ImageFormat = ImageFormat.PNG,
               progress: Progress | None = None, parallel: bool = False) -> LabelRun:
    """Labels for every record of a SIGNED.jsonl file (what ``jdzhi label`` runs)."""
    return render_labels(read_signed(signed), out, spec=spec, image_format=image_format,
                         progress=progress, parallel=parallel)
