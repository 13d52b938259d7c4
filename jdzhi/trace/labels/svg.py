"""One label as a self-contained SVG file."""

from __future__ import annotations

from jdzhi.trace.labels.layout import MARK_EN, MARK_ZH, LabelData, SheetSpec, layout
from jdzhi.trace.labels.qr import QUIET_ZONE, QrSymbol

__all__ = ["label_svg"]


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
