"""One label as a PNG image (grayscale, at the sheet spec's dpi)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jdzhi.trace.labels.layout import MM_PER_INCH, LabelData, SheetSpec, layout
from jdzhi.trace.labels.qr import QUIET_ZONE, QrSymbol

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["label_image", "label_png"]


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


def label_png(label: LabelData, symbol: QrSymbol, spec: SheetSpec) -> bytes:
    """The PNG file of one label (its resolution recorded, so it prints at size)."""
    import io

    buffer = io.BytesIO()
    label_image(label, symbol, spec).save(buffer, format="PNG", dpi=(spec.dpi, spec.dpi),
                                          optimize=False)
    return buffer.getvalue()


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
