"""SAMPLE porcelain pictures for ``jdzhi demo``, drawn procedurally: nothing here is a photo.

The real photos used to calibrate jdzhi cannot ship, so the demo draws its own: blue-and-white
(青花) vases, jars, plates and bowls in cobalt on a glazed white body, each from a named
:class:`Design` (a shape, a motif and a seed). Two designs with the same shape and palette but
different motifs are the "innocent look-alikes" a copyright screen must tell apart from copies.
Every picture carries a small "SAMPLE · synthetic" caption and says so in its PNG metadata.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image, ImageDraw

SHAPES = ("meiping", "jar", "plate", "bowl")
MOTIFS = ("lotus-scroll", "landscape", "waves", "fish", "medallions", "cracked-ice",
          "banana-leaf", "bands")
#: cobalt blues of underglaze painting, dark to light, and the glaze's white
COBALT = ((24, 42, 110), (38, 66, 150), (72, 104, 178), (128, 156, 206))
GLAZE = (238, 242, 246)
CAPTION = "SAMPLE · synthetic"
SIZE = 512

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Design:
    """A drawable piece: ``shape`` (one of :data:`SHAPES`), ``motif`` (one of :data:`MOTIFS`)
    and the ``seed`` of its details."""

    name: str
    shape: str
    motif: str
    seed: int

    @property
    def slug(self) -> str:
        return f"{self.shape}-{self.motif}-{self.seed}"


# ---------------------------------------------------------------- silhouettes


def _profile(shape: str, t: float) -> float:
    """Half-width (0..1) of a vessel at height ``t`` (0 = mouth, 1 = foot)."""
    if shape == "meiping":  # small mouth, broad shoulder, tapering to the foot
        if t < 0.08:
            return 0.16
        if t < 0.3:
            return 0.16 + 0.82 * math.sin((t - 0.08) / 0.22 * math.pi / 2)
        return 0.98 - 0.58 * math.pow((t - 0.3) / 0.7, 1.4)
    if shape == "jar":  # short neck, round belly
        if t < 0.1:
            return 0.55
        belly = math.sin(min(1.0, (t - 0.1) / 0.9) * math.pi)
        return 0.55 + 0.43 * math.pow(belly, 0.8) - 0.12 * t
    raise ValueError(shape)


def _silhouette(shape: str, size: int) -> tuple[list[tuple[float, float]] | Box, Box, bool]:
    """The outline (a polygon, or an ellipse box), the painted field's box, and whether the
    outline is an ellipse."""
    centre = size / 2
    if shape in ("plate", "bowl"):
        if shape == "plate":
            box = (size * 0.1, size * 0.1, size * 0.9, size * 0.9)
        else:
            box = (size * 0.08, size * 0.22, size * 0.92, size * 0.86)
        return box, box, True
    top, bottom, half = size * 0.08, size * 0.94, size * 0.36
    steps = 64
    right = [(centre + half * _profile(shape, i / steps), top + (bottom - top) * i / steps)
             for i in range(steps + 1)]
    left = [(2 * centre - x, y) for x, y in reversed(right)]
    return right + left, (centre - half, top, centre + half, bottom), False


# ---------------------------------------------------------------- motifs


def _lotus_scroll(draw: ImageDraw.ImageDraw, box: Box, rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    rows = rng.choice((2, 3))
    for row in range(rows):
        mid = y0 + height * (row + 1) / (rows + 1)
        amplitude = height / (rows + 1) * 0.3
        phase = rng.uniform(0, math.tau)
        points = [(x0 + width * i / 80,
                   mid + amplitude * math.sin(phase + i / 80 * math.tau * 2)) for i in range(81)]
        draw.line(points, fill=COBALT[1], width=max(3, int(width / 60)))
        for i in range(0, 81, 20):
            x, y = points[i]
            radius = width / 14
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=COBALT[0])
            draw.ellipse((x - radius / 2, y - radius / 2, x + radius / 2, y + radius / 2),
                         fill=COBALT[3])
        for i in range(10, 81, 20):
            x, y = points[i]
            draw.ellipse((x - width / 30, y - height / 16, x + width / 30, y + height / 60),
                         fill=COBALT[2])
    _band(draw, (x0, y0, x1, y0 + height * 0.06), COBALT[0])
    _band(draw, (x0, y1 - height * 0.08, x1, y1), COBALT[0])


def _landscape(draw: ImageDraw.ImageDraw, box: Box, rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    for layer, colour in enumerate((COBALT[3], COBALT[2], COBALT[0])):
        base = y0 + height * (0.55 + 0.13 * layer)
        peaks = [(x0, y1)]
        x = x0
        while x < x1:
            peaks.append((x, base - rng.uniform(0.05, 0.3) * height))
            x += rng.uniform(0.08, 0.2) * width
        peaks += [(x1, base), (x1, y1)]
        draw.polygon(peaks, fill=colour)
    moon = x0 + width * rng.uniform(0.15, 0.8)
    draw.ellipse((moon - width / 12, y0 + height * 0.12, moon + width / 12,
                  y0 + height * 0.12 + width / 6), outline=COBALT[1], width=4)


def _waves(draw: ImageDraw.ImageDraw, box: Box, rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    crest = width / rng.choice((6, 8, 10))
    y = y0 + height * 0.35
    while y < y1:
        x = x0 - crest / 2 * (int(y) % 2)
        while x < x1:
            draw.arc((x, y, x + crest, y + crest), 180, 360, fill=COBALT[0], width=5)
            x += crest
        y += crest / 2.5
    # a dragon's body: a thick swirling curve over the sea
    points = [(x0 + width * i / 60, y0 + height * (0.2 + 0.12 * math.sin(i / 60 * math.tau
                                                                          * 1.5)))
              for i in range(61)]
    draw.line(points, fill=COBALT[1], width=int(width / 14))


def _fish(draw: ImageDraw.ImageDraw, box: Box, rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    for _ in range(rng.randint(5, 8)):
        x = x0 + rng.uniform(0.05, 0.95) * width
        draw.line([(x + rng.uniform(-20, 20) * math.sin(k / 3), y1 - k * height / 24)
                   for k in range(rng.randint(8, 18))], fill=COBALT[2], width=4)
    for _ in range(rng.randint(3, 5)):
        x, y = x0 + rng.uniform(0.1, 0.75) * width, y0 + rng.uniform(0.15, 0.75) * height
        length = width * rng.uniform(0.16, 0.24)
        draw.ellipse((x, y, x + length, y + length * 0.45), fill=COBALT[0])
        draw.polygon([(x + length * 0.95, y + length * 0.22), (x + length * 1.3, y),
                      (x + length * 1.3, y + length * 0.45)], fill=COBALT[1])


def _medallions(draw: ImageDraw.ImageDraw, box: Box, rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    count = rng.choice((2, 3))
    radius = width / (count * 2.6)
    for row in range(count + 1):
        for column in range(count):
            cx = x0 + width * (column + 0.5 + 0.5 * (row % 2)) / count
            cy = y0 + height * (row + 0.5) / (count + 1)
            draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=COBALT[1])
            for petal in range(8):
                angle = petal * math.tau / 8
                px, py = cx + radius * 0.55 * math.cos(angle), cy + radius * 0.55 * math.sin(angle)
                draw.ellipse((px - radius / 5, py - radius / 5, px + radius / 5, py + radius / 5),
                             fill=GLAZE)
            draw.ellipse((cx - radius / 4, cy - radius / 4, cx + radius / 4, cy + radius / 4),
                         fill=COBALT[0])


def _cracked_ice(draw: ImageDraw.ImageDraw, box: Box, rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    draw.rectangle(box, fill=COBALT[1])
    for _ in range(40):
        x, y = x0 + rng.random() * width, y0 + rng.random() * height
        draw.line([(x, y), (x + rng.uniform(-0.3, 0.3) * width,
                            y + rng.uniform(-0.3, 0.3) * height)], fill=COBALT[3], width=3)
    for _ in range(rng.randint(6, 10)):
        x, y = x0 + rng.random() * width, y0 + rng.random() * height
        petal = width / 40
        for k in range(5):
            angle = k * math.tau / 5
            px, py = x + petal * math.cos(angle), y + petal * math.sin(angle)
            draw.ellipse((px - petal, py - petal, px + petal, py + petal), fill=GLAZE)


def _banana_leaf(draw: ImageDraw.ImageDraw, box: Box, rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    leaves = rng.choice((6, 8, 10))
    step = width / leaves
    for k in range(leaves):
        left = x0 + k * step
        draw.polygon([(left, y1), (left + step / 2, y0 + height * 0.3), (left + step, y1)],
                     fill=COBALT[1], outline=COBALT[0])
        draw.line([(left + step / 2, y1), (left + step / 2, y0 + height * 0.3)],
                  fill=GLAZE, width=2)
    for k in range(leaves):
        left = x0 + k * step
        draw.polygon([(left, y0), (left + step / 2, y0 + height * 0.2), (left + step, y0)],
                     fill=COBALT[2])


def _bands(draw: ImageDraw.ImageDraw, box: Box, rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    height = y1 - y0
    y = y0
    while y < y1:
        thick = height * rng.uniform(0.03, 0.12)
        draw.rectangle((x0, y, x1, y + thick), fill=rng.choice(COBALT[:3]))
        y += thick + height * rng.uniform(0.03, 0.08)


def _band(draw: ImageDraw.ImageDraw, box: Box, colour: tuple[int, int, int]) -> None:
    draw.rectangle(box, fill=colour)


_MOTIFS: dict[str, Callable[[ImageDraw.ImageDraw, Box, random.Random], None]] = {
    "lotus-scroll": _lotus_scroll, "landscape": _landscape, "waves": _waves, "fish": _fish,
    "medallions": _medallions, "cracked-ice": _cracked_ice, "banana-leaf": _banana_leaf,
    "bands": _bands,
}


# ---------------------------------------------------------------- pictures


def draw_piece(design: Design, *, size: int = SIZE) -> Image.Image:
    """The piece of ``design`` on a plain backdrop, lit from the left, as an RGB image."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    if design.shape not in SHAPES or design.motif not in _MOTIFS:
        raise ValueError(f"unknown shape or motif in {design}")
    rng = random.Random(f"{design.shape}/{design.motif}/{design.seed}")
    outline, field, ellipse = _silhouette(design.shape, size)
    painted = Image.new("RGB", (size, size), GLAZE)
    _MOTIFS[design.motif](ImageDraw.Draw(painted), field, rng)
    painted = painted.filter(ImageFilter.GaussianBlur(1.2))  # cobalt bleeds into the glaze
    mask = Image.new("L", (size, size), 0)
    if ellipse:
        assert isinstance(outline, tuple)
        ImageDraw.Draw(mask).ellipse(outline, fill=255)
    else:
        assert isinstance(outline, list)
        ImageDraw.Draw(mask).polygon(outline, fill=255)
    backdrop = np.linspace(200, 168, size, dtype=np.float32)[:, None, None] * np.array(
        [1.0, 0.97, 0.92], dtype=np.float32)
    backdrop = np.broadcast_to(backdrop, (size, size, 3))
    # glaze shading: brighter left of centre, darker toward the edges
    x = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    light = (0.78 + 0.26 * np.cos(np.clip(x + 0.25, -1.5, 1.5) * 1.1))[None, :, None]
    body = np.asarray(painted, dtype=np.float32) * light
    alpha = np.asarray(mask.filter(ImageFilter.GaussianBlur(1.0)), dtype=np.float32)[..., None]
    picture = body * alpha / 255 + backdrop * (1 - alpha / 255)
    image = Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8), "RGB")
    _caption(image)
    return image


def backdrop(design: Design, width: int, height: int) -> Image.Image:
    """A ``width`` x ``height`` scene for a simulated photo: the piece, large, mid-frame."""
    piece = draw_piece(design, size=height)
    scene = piece.crop((0, 0, 1, height)).resize((width, height))  # the backdrop, widened
    scene.paste(piece, ((width - height) // 2, 0))
    return scene


def _caption(image: Image.Image) -> None:
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default(size=max(10, image.width // 40))
    ImageDraw.Draw(image).text((6, image.height - image.width // 30 - 8), CAPTION,
                               fill=(90, 90, 90), font=font)


def save_sample_png(image: Image.Image, path: Path) -> Path:
    """Save as PNG, saying in its metadata that it is a synthetic SAMPLE picture."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "SAMPLE: a synthetic picture drawn by jdzhi demo, not a photo")
    image.save(path, format="PNG", pnginfo=info)
    return path


def cropped_mirror(image: Image.Image, *, keep: float = 0.9) -> Image.Image:
    """What a copyist might submit: the picture mirrored left to right and cropped to ``keep``
    of each side, off-centre, resized back to the original size."""
    from PIL import Image as PILImage
    from PIL import ImageOps

    width, height = image.size
    left, top = int(width * (1 - keep) * 0.7), int(height * (1 - keep) * 0.4)
    crop = ImageOps.mirror(image).crop((left, top, left + int(width * keep),
                                        top + int(height * keep)))
    return crop.resize((width, height), PILImage.Resampling.LANCZOS)


#: the owner of the demo's works (fictitious)
OWNER = "景德镇青云陶瓷工作室 (SAMPLE)"


def registration_no(index: int) -> str:
    """A (fictitious) Jiangxi copyright registration number for the demo's ``index``-th work."""
    return f"赣作登字-2026-F-{90000000 + index:08d}"


#: the protected works the demo registers: one per shape, each in its own motif
WORKS = (
    Design("青花缠枝莲纹梅瓶 (SAMPLE)", "meiping", "lotus-scroll", 1),
    Design("青花山水纹罐 (SAMPLE)", "jar", "landscape", 2),
    Design("青花海水龙纹盘 (SAMPLE)", "plate", "waves", 3),
    Design("青花鱼藻纹碗 (SAMPLE)", "bowl", "fish", 4),
    Design("青花团花纹梅瓶 (SAMPLE)", "meiping", "medallions", 5),
    Design("青花冰梅纹罐 (SAMPLE)", "jar", "cracked-ice", 6),
)
#: an innocent look-alike of WORKS[0]: the same shape and palette, another motif
LOOK_ALIKE = Design("青花蕉叶纹梅瓶 (SAMPLE)", "meiping", "banana-leaf", 7)
