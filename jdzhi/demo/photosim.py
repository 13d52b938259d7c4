"""SIMULATION: synthetic "phone photos" of labels, for tests, benchmarks and the demo.

Nothing here is a real photograph. :func:`simulate_photo` takes a rendered label and degrades it
the way a phone photo of a decal on a glazed piece does: the decal wraps around a curved body, the
camera looks at it at an angle, the label is small in a larger frame over a porcelain photo (or a
generated backdrop), a highlight of glare washes part of it out, focus is slightly soft, the
sensor adds noise and the phone saves a JPEG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import Image


@dataclass(frozen=True)
class PhotoConditions:
    """How hard the simulated photo is; the defaults are an ordinary, slightly careless shot."""

    frame: tuple[int, int] = (1280, 960)  # width, height in pixels
    label_share: float = 0.35  # label width as a share of the frame width
    tilt: float = 0.12  # perspective: corners moved by this share of the label size
    rotation_deg: float = 8.0
    #: the decal wraps round a cylinder (axis along the label's height); this is half the angle
    #: round the body it covers, in radians: 0 flat, 0.56 for a 50 mm decal on a 90 mm vase,
    #: 1.0 on a 50 mm cup (at most 1.4)
    curvature: float = 0.35
    blur_sigma: float = 1.0
    glare: float = 0.45  # peak brightening of the highlight, 0-1
    noise: float = 4.0  # sensor noise, standard deviation in grey levels
    jpeg_quality: int = 80


def generated_background(width: int, height: int, seed: int) -> npt.NDArray[np.uint8]:
    """A porcelain-ish backdrop (smooth glaze gradient, faint blue brush strokes), as BGR."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 215 + 25 * np.sin(x / width * np.pi) * np.cos(y / height * np.pi / 2)
    image = np.dstack([base + 8, base + 4, base]).clip(0, 255).astype(np.uint8)
    for _ in range(12):
        points = rng.integers(0, [width, height], size=(4, 2)).astype(np.int32)
        cv2.polylines(image, [points], False, (150, 90, 40), int(rng.integers(2, 8)),
                      cv2.LINE_AA)
    return np.asarray(cv2.GaussianBlur(image, (0, 0), 2.0), dtype=np.uint8)


def simulate_photo(
    label: Image.Image,
    *,
    seed: int = 0,
    conditions: PhotoConditions | None = None,
    background: Image.Image | None = None,
) -> Image.Image:
    """A simulated phone photo of ``label`` (an RGB PIL image, JPEG-compressed once)."""
    import io

    import cv2
    import numpy as np
    from PIL import Image

    c = conditions or PhotoConditions()
    rng = np.random.default_rng(seed)
    width, height = c.frame
    frame: Any  # numpy arrays change dtype along the way
    if background is None:
        frame = generated_background(width, height, seed)
    else:
        frame = cv2.cvtColor(np.asarray(background.convert("RGB")), cv2.COLOR_RGB2BGR)
        frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)

    sticker: Any = np.asarray(label.convert("L"), dtype=np.uint8)
    pad = max(4, sticker.shape[1] // 40)
    sticker = cv2.copyMakeBorder(sticker, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=250)
    sticker = _wrap_cylinder(sticker, c.curvature)
    h, w = sticker.shape
    target_w = c.label_share * width
    target_h = target_w * h / w
    cx = width / 2 + rng.uniform(-0.2, 0.2) * (width - target_w)
    cy = height / 2 + rng.uniform(-0.2, 0.2) * (height - target_h)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float32)
    corners *= np.array([target_w / 2, target_h / 2], dtype=np.float32)
    corners += rng.uniform(-c.tilt, c.tilt, size=(4, 2)).astype(np.float32) * np.array(
        [target_w, target_h], dtype=np.float32) / 2
    angle = np.radians(rng.uniform(-c.rotation_deg, c.rotation_deg))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]],
                        dtype=np.float32)
    corners = corners @ rotation.T + np.array([cx, cy], dtype=np.float32)
    source = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(source, corners.astype(np.float32))
    warped = cv2.warpPerspective(sticker, matrix, (width, height), flags=cv2.INTER_AREA,
                                 borderValue=0)
    mask = cv2.warpPerspective(np.full_like(sticker, 255), matrix, (width, height),
                               flags=cv2.INTER_LINEAR, borderValue=0).astype(np.float32) / 255
    shade = rng.uniform(0.85, 1.0)  # the label is a little darker than paper white
    photo: Any = frame.astype(np.float32)
    label_bgr = np.dstack([warped] * 3).astype(np.float32) * shade
    photo = photo * (1 - mask[..., None]) + label_bgr * mask[..., None]

    if c.glare > 0:
        gx, gy = cx + rng.uniform(-0.3, 0.3) * target_w, cy + rng.uniform(-0.3, 0.3) * target_h
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        radius = target_w * 0.25
        highlight = np.exp(-(((xx - gx) ** 2) + ((yy - gy) ** 2)) / (2 * radius**2))
        photo = photo + (255 - photo) * (c.glare * highlight)[..., None]
    if c.blur_sigma > 0:
        photo = cv2.GaussianBlur(photo, (0, 0), c.blur_sigma)
    if c.noise > 0:
        photo = photo + rng.normal(0, c.noise, photo.shape)
    rgb = cv2.cvtColor(photo.clip(0, 255).astype(np.uint8), cv2.COLOR_BGR2RGB)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=c.jpeg_quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _wrap_cylinder(image: npt.NDArray[np.uint8], curvature: float) -> npt.NDArray[np.uint8]:
    """The label as seen wrapped on a cylinder: columns crowd together towards the edges."""
    import cv2
    import numpy as np

    if curvature <= 0:
        return image
    h, w = image.shape
    half_angle = min(curvature, 1.4)  # radians of the cylinder the label covers, each side
    u = np.linspace(-1, 1, w, dtype=np.float32)
    # a point at arc position s appears at sin(s): invert to find the source column of each pixel
    source = np.arcsin(np.clip(u * np.sin(half_angle), -1, 1)) / half_angle
    map_x = np.tile(((source + 1) / 2 * (w - 1)).astype(np.float32), (h, 1))
    map_y = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, axis=1)
    shading = (0.8 + 0.2 * np.cos(u * half_angle)).astype(np.float32)
    wrapped = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderValue=255)
    return np.asarray((wrapped * shading[None, :]).clip(0, 255), dtype=np.uint8)
