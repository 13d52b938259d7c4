"""Where everything goes on a label and on a sheet, in millimetres.

Each label shows the QR code of the record's label text, the mark **景德镇制 Jingdezhen Zhi**,
the enterprise's short name, the serial and the category. One layout (computed by :func:`layout`)
feeds the three writers (:mod:`.pdf`, :mod:`.png`, :mod:`.svg`), so a PDF, a PNG and an SVG of a
label look the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from jdzhi.errors import InvalidInput
from jdzhi.trace.labels.qr import DEFAULT_LEVEL, MAX_VERSION, ErrorCorrection

__all__ = [
    "MARK_EN",
    "MARK_ZH",
    "MM_PER_INCH",
    "PAGE_SIZES",
    "POINTS_PER_MM",
    "SERIAL_LINE",
    "LabelData",
    "LabelLayout",
    "SheetSpec",
    "TextLine",
    "layout",
    "serial_line",
    "shared_layout",
]

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


@dataclass(frozen=True)
class LabelData:
    """What one label shows; ``text`` is the exact QR text (the record's ``label``)."""

    serial: str
    text: str
    enterprise: str
    category: str


@dataclass(frozen=True)
class SheetSpec:
    """The geometry of labels and sheets, in millimetres (``dpi`` is for PNG output).

    ``cut_marks`` draws a thin grey outline around each label of a PDF sheet, to cut along.
    """

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
    cut_marks: bool = False

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

    def slot_corner(self, slot: int) -> tuple[float, float]:
        """The bottom-left corner of the ``slot``-th label of a page (mm from the page's bottom
        left; the grid is centred across the page and starts at the top margin)."""
        columns, _ = self.grid()
        page_w, page_h = self.page_size
        x_offset = (page_w - columns * self.label_width - (columns - 1) * self.gap) / 2
        col, row = slot % columns, slot // columns
        left = x_offset + col * (self.label_width + self.gap)
        bottom = page_h - self.margin - row * (self.label_height + self.gap) - self.label_height
        return left, bottom

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
    shared = shared_layout(label.enterprise, label.category, spec)
    lines = list(shared.lines)
    lines[SERIAL_LINE] = serial_line(label.serial, spec)
    return LabelLayout(shared.qr_x, shared.qr_y, shared.qr_side, tuple(lines))


def serial_line(serial: str, spec: SheetSpec) -> TextLine:
    """The line showing the serial (:data:`SERIAL_LINE`)."""
    return _fitted_line(f"No. {serial}", SERIAL_LINE, spec)


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
def shared_layout(enterprise: str, category: str, spec: SheetSpec) -> LabelLayout:
    """The layout every label of an enterprise and category shares (its serial line a
    placeholder, :func:`layout` fills it in)."""
    pad, qr_side, _ = _geometry(spec)
    texts = (MARK_ZH, MARK_EN, enterprise, "No.", category)
    lines = tuple(_fitted_line(text, index, spec) for index, text in enumerate(texts))
    return LabelLayout(qr_x=pad, qr_y=pad, qr_side=qr_side, lines=lines)
