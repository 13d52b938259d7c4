"""Print-ready PDF sheets of labels.

The CJK font (a subset of Noto Sans SC, :mod:`.fonts`) is embedded and sets every line, so the
file prints the same anywhere. The lines every label of an enterprise and category shares are
drawn once, as a form; per label only the serial and the QR bitmap are new. The file is written
to a temporary name and linked into place, so a failure leaves nothing behind and a file that
appeared meanwhile is never overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from jdzhi.errors import InvalidInput
from jdzhi.files import NewFile
from jdzhi.trace.labels.layout import (
    MARK_EN,
    MARK_ZH,
    POINTS_PER_MM,
    SERIAL_LINE,
    LabelData,
    SheetSpec,
    TextLine,
    serial_line,
    shared_layout,
)
from jdzhi.trace.labels.qr import QUIET_ZONE, QrSymbol

__all__ = ["write_pdf"]

_FONT_NAME = "JdzhiNotoSansSC"
#: outline of a label when the sheet asks for cut marks: light grey, 0.25 pt
_CUT_GRAY, _CUT_WIDTH = 0.6, 0.25


def write_pdf(labels: Sequence[LabelData], symbols: Iterable[QrSymbol], out: Path,
              spec: SheetSpec, progress: Callable[[int], None] | None = None) -> int:
    """Write the sheets; returns the number of pages."""
    from reportlab import rl_config

    # reportlab has no per-document switch for ASCII85 streams, only this setting: binary
    # streams, as ASCII85 in pure Python would cost more than drawing (restored below)
    saved_a85 = rl_config.useA85
    rl_config.useA85 = 0
    try:
        with NewFile(out) as output:  # reportlab writes the temporary file by its name
            pdf = _new_canvas(labels, output.temporary, spec)
            pages = _draw_labels(pdf, labels, symbols, spec, progress)
            pdf.save()
            output.publish()
    except OSError as error:
        raise InvalidInput(f"cannot write {out}: {error.strerror}") from None
    finally:
        rl_config.useA85 = saved_a85
    return pages


def _new_canvas(labels: Sequence[LabelData], path: Path, spec: SheetSpec) -> Any:
    """A canvas with the job's font subset registered as its only font, and true metadata."""
    import io

    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    from jdzhi.timeutil import utc_now
    from jdzhi.trace.labels.fonts import pdf_font_file

    characters = "".join(sorted({
        ch for label in labels
        for ch in f"{MARK_ZH}{label.enterprise}{label.category}{label.serial}"}))
    pdfmetrics.registerFont(TTFont(_FONT_NAME, io.BytesIO(pdf_font_file(characters))))
    page_w, page_h = spec.page_size
    # initialFontName: the page preamble names the embedded font, not Helvetica (which a
    # PDF would reference without embedding)
    pdf = canvas.Canvas(str(path), pagesize=(page_w * POINTS_PER_MM, page_h * POINTS_PER_MM),
                        pageCompression=1, invariant=1, initialFontName=_FONT_NAME)
    enterprises = list(dict.fromkeys(label.enterprise for label in labels))
    pdf.setTitle(f"{MARK_ZH} {MARK_EN} traceability labels")
    pdf.setAuthor(", ".join(enterprises))
    pdf.setSubject(f"1 QR traceability label, serial {labels[0].serial}" if len(labels) == 1
                   else f"{len(labels)} QR traceability labels, serials {labels[0].serial} to "
                        f"{labels[-1].serial}")
    pdf.setCreator("jdzhi")
    # invariant output (stable object ids) but the true creation time, not reportlab's
    # invariant 2000-01-01
    created = utc_now().strftime("D:%Y%m%d%H%M%S+00'00'")
    pdf.setDateFormatter(lambda *_: created)
    return pdf


def _draw_labels(pdf: Any, labels: Sequence[LabelData], symbols: Iterable[QrSymbol],
                 spec: SheetSpec, progress: Callable[[int], None] | None) -> int:
    columns, rows = spec.grid()
    per_page = columns * rows
    pages = 0
    forms: dict[tuple[str, str], str] = {}
    for index, (label, symbol) in enumerate(zip(labels, symbols, strict=True)):
        slot = index % per_page
        if slot == 0:
            if index:
                pdf.showPage()
            pages += 1
        form = forms.get((label.enterprise, label.category))
        if form is None:
            form = forms[(label.enterprise, label.category)] = f"L{len(forms)}"
            _shared_form(pdf, form, label, spec)
        left, bottom = spec.slot_corner(slot)
        # a label is a few operators in the page stream: saveState and drawString would cost
        # more than the rest of a label (benchmarks/bench_labels.py)
        pdf.addLiteral(f"q 1 0 0 1 {left * POINTS_PER_MM:.3f} {bottom * POINTS_PER_MM:.3f} cm")
        pdf.doForm(form)
        _draw_line(pdf, serial_line(label.serial, spec), spec)
        place = shared_layout(label.enterprise, label.category, spec)
        side = place.qr_side * POINTS_PER_MM
        pdf.addLiteral(_inline_image(
            symbol, place.qr_x * POINTS_PER_MM,
            (spec.label_height - place.qr_y) * POINTS_PER_MM - side, side) + " Q")
        if progress is not None:
            progress(1)
    return pages


def _shared_form(pdf: Any, name: str, label: LabelData, spec: SheetSpec) -> None:
    """The form of what every label of an enterprise and category shows (and the cut mark)."""
    pdf.beginForm(name)
    if spec.cut_marks:
        pdf.setStrokeGray(_CUT_GRAY)
        pdf.setLineWidth(_CUT_WIDTH)
        pdf.rect(0, 0, spec.label_width * POINTS_PER_MM, spec.label_height * POINTS_PER_MM,
                 stroke=1, fill=0)
    place = shared_layout(label.enterprise, label.category, spec)
    for index, line in enumerate(place.lines):
        if index != SERIAL_LINE:
            _draw_line(pdf, line, spec)
    pdf.endForm()


def _draw_line(pdf: Any, line: TextLine, spec: SheetSpec) -> None:
    text = pdf.beginText(line.x * POINTS_PER_MM,
                         (spec.label_height - line.baseline) * POINTS_PER_MM)
    text.setFont(_FONT_NAME, line.size * POINTS_PER_MM)
    text.textOut(line.text)
    pdf.drawText(text)


def _inline_image(symbol: QrSymbol, x: float, y: float, side: float) -> str:
    """PDF operators drawing the symbol as a 1-bit inline image (white 1, black 0) at x, y.

    reportlab has no inline-image call for 1-bit data, hence the operators. An inline image in
    the page's compressed content stream is the cheapest way to place tens of thousands of
    small distinct bitmaps; each is under 1 KB, far below the 4 KB PDF readers expect at most
    for inline images.
    """
    import numpy as np

    size = symbol.size + 2 * QUIET_ZONE
    light = np.ones((size, size), dtype=bool)
    light[QUIET_ZONE:-QUIET_ZONE, QUIET_ZONE:-QUIET_ZONE] = ~symbol.modules
    data = np.packbits(light, axis=1).tobytes().hex()
    return (f"q {side:.3f} 0 0 {side:.3f} {x:.3f} {y:.3f} cm "
            f"BI /W {size} /H {size} /BPC 1 /CS /G /F /AHx ID {data}> EI Q")
