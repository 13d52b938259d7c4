"""How copiers modify a registered design: the modified copies of the screening benchmark.

Each function takes an RGB PIL image and a seeded ``random.Random`` and returns the modified
image; the same functions turn unregistered photos into the benchmark's innocent submissions.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

Modify = Callable[[Image.Image, random.Random], Image.Image]


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def crop(low: float, high: float) -> Modify:
    """Keep a random window of ``low``-``high`` of each side."""

    def modify(image: Image.Image, rng: random.Random) -> Image.Image:
        width, height = image.size
        keep_w, keep_h = rng.uniform(low, high), rng.uniform(low, high)
        w, h = int(width * keep_w), int(height * keep_h)
        x, y = rng.randint(0, width - w), rng.randint(0, height - h)
        return image.crop((x, y, x + w, y + h))

    return modify


def mirror(image: Image.Image, rng: random.Random) -> Image.Image:
    return ImageOps.mirror(image)


def rotate_small(image: Image.Image, rng: random.Random) -> Image.Image:
    angle = rng.choice((-1, 1)) * rng.uniform(3, 10)
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True,
                        fillcolor=(255, 255, 255))


def rotate_quarter(image: Image.Image, rng: random.Random) -> Image.Image:
    return image.transpose(rng.choice((Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270)))


def recolour(image: Image.Image, rng: random.Random) -> Image.Image:
    hue, saturation, value = image.convert("HSV").split()
    shift = rng.randint(40, 215)
    hue = hue.point(lambda v: (v + shift) % 256)
    saturation = saturation.point(lambda v: min(255, int(v * rng.uniform(1.2, 1.8))))
    return Image.merge("HSV", (hue, saturation, value)).convert("RGB")


def border(image: Image.Image, rng: random.Random) -> Image.Image:
    width, height = image.size
    pad = int(max(width, height) * rng.uniform(0.08, 0.25))
    colour = tuple(rng.randint(0, 255) for _ in range(3))
    return ImageOps.expand(image, border=pad, fill=colour)


def text_overlay(image: Image.Image, rng: random.Random) -> Image.Image:
    image = image.copy()
    draw = ImageDraw.Draw(image)
    width, height = image.size
    size = max(14, height // 9)
    for _ in range(2):
        y = rng.randint(0, max(1, height - size))
        draw.text((rng.randint(0, width // 3), y), rng.choice(
            ("SALE -50%", "NEW 2026", "HANDMADE", "Best Price", "Limited Edition")),
            fill=tuple(rng.randint(0, 255) for _ in range(3)), font=_font(size))
    return image


def rephotograph(image: Image.Image, rng: random.Random) -> Image.Image:
    """A photo of a print: perspective, a table around it, blur, noise, JPEG."""
    import numpy as np

    width, height = image.size
    canvas_w, canvas_h = int(width * 1.25), int(height * 1.25)
    shade = rng.randint(90, 200)
    canvas = Image.new("RGB", (canvas_w, canvas_h), (shade, shade - 10, shade - 25))
    left, top = (canvas_w - width) // 2, (canvas_h - height) // 2
    canvas.paste(image, (left, top))
    jitter = 0.06
    corners = [(left, top), (left + width, top), (left + width, top + height),
               (left, top + height)]
    moved = [(x + rng.uniform(-jitter, jitter) * width, y + rng.uniform(-jitter, jitter) * height)
             for x, y in corners]
    coefficients = _perspective_coefficients(moved, corners)
    warped = canvas.transform(canvas.size, Image.Transform.PERSPECTIVE, coefficients,
                              Image.Resampling.BICUBIC, fillcolor=(shade, shade - 10, shade - 25))
    warped = warped.filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 1.6)))
    pixels = np.asarray(warped, dtype=np.float32)
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, rng.uniform(3, 8), pixels.shape)
    noisy = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
    return _jpeg(noisy, rng.randint(55, 80))


def _perspective_coefficients(source: list[tuple[float, float]],
                              target: list[tuple[int, int]]) -> tuple[float, ...]:
    """PIL's 8 perspective coefficients mapping output pixels (``source``, where the corners
    go) back to input pixels (``target``, where they were)."""
    import numpy as np

    matrix: list[list[float]] = []
    values: list[float] = []
    for (u, v), (x, y) in zip(source, target, strict=True):
        matrix.append([u, v, 1, 0, 0, 0, -x * u, -x * v])
        matrix.append([0, 0, 0, u, v, 1, -y * u, -y * v])
        values.extend((x, y))
    solved = np.linalg.solve(np.array(matrix, np.float64), np.array(values, np.float64))
    return tuple(float(c) for c in solved)


def listing(image: Image.Image, rng: random.Random) -> Image.Image:
    """The design pasted into a product-listing picture with a price and a caption."""
    canvas_w, canvas_h = 800, 800
    colour = tuple(rng.randint(200, 255) for _ in range(3))
    canvas = Image.new("RGB", (canvas_w, canvas_h), colour)
    scale = rng.uniform(0.5, 0.7) * min(canvas_w / image.width, canvas_h / image.height)
    pasted = image.resize((int(image.width * scale), int(image.height * scale)),
                          Image.Resampling.LANCZOS)
    x = rng.randint(20, canvas_w - pasted.width - 20)
    y = rng.randint(20, canvas_h - pasted.height - 20)
    canvas.paste(pasted, (x, y))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, canvas_w, 60), fill=(180, 20, 30))
    draw.text((20, 10), "Porcelain Shop  CNY " + str(rng.randint(99, 9999)), fill=(255, 255, 255),
              font=_font(36))
    draw.text((20, canvas_h - 50), "Free shipping - 7 day returns", fill=(60, 60, 60),
              font=_font(28))
    return canvas


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def heavy_jpeg(image: Image.Image, rng: random.Random) -> Image.Image:
    return _jpeg(image, rng.randint(8, 18))


#: every kind of modification the benchmark measures, by name
MODIFICATIONS: dict[str, Modify] = {
    "crop 70-80%": crop(0.70, 0.80),
    "crop 80-90%": crop(0.80, 0.90),
    "mirror": mirror,
    "rotate 3-10°": rotate_small,
    "rotate 90°": rotate_quarter,
    "recolour": recolour,
    "border": border,
    "text overlay": text_overlay,
    "re-photograph": rephotograph,
    "product listing": listing,
    "heavy JPEG": heavy_jpeg,
}
