"""SIMULATION: field phone photos of jdzhi labels, independent of jdzhi's own photo simulator.

Nothing here is a real photograph, and nothing here is shared with :mod:`jdzhi.demo.photosim`
(the scanner must not be measured by the simulator it was developed against). A photo is made
the way a phone sees a printed decal on a glazed piece:

- the label is a real jdzhi PNG label (``label_image`` at 600 dpi), its QR symbol scaled to
  10-17 mm at a phone's resolution at that distance (10-17 pixels per millimetre, so 100-290
  pixels across), printed in grey ink on off-white decal paper;
- some labels are bent round a vase (a cylinder whose axis runs along the label's height; the
  label need not be centred on the line facing the camera), all are rotated and seen in
  perspective (each corner moved by up to a sixth of the label's size);
- the label sits on one of the real porcelain photos in ``../shared/data/porcelain-dev`` (or on
  a generated glaze when that folder is absent), with uneven light over the scene, Lambert
  shading on the curved body and a specular glare band off the glaze;
- the camera adds defocus (Gaussian), hand shake (a motion-blur line), sensor noise (shot and
  read noise, per colour channel), its own sharpening, and saves a JPEG (quality down to 55).

Three bands, mild, medium and hard, are ranges of these parameters (:data:`BANDS`); a photo is a
deterministic function of its label, band and seed.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from cv2.typing import MatLike
    from PIL import Image

PORCELAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "porcelain-dev"

Range = tuple[float, float]


@dataclass(frozen=True)
class Band:
    """Ranges of every degradation; each photo draws its own values uniformly from them."""

    name: str
    qr_mm: Range  # QR symbol side (quiet zone excluded)
    px_per_mm: Range  # the phone's resolution at the label
    blur_sigma: Range  # defocus, Gaussian sigma in pixels
    motion_px: Range  # hand shake: length of the motion-blur line in pixels
    perspective: Range  # each label corner moved by up to this share of the label's size
    rotation_deg: float  # rotation drawn from +- this
    curved_share: float  # share of labels bent round a vase
    curvature: Range  # half the angle round the body the label covers (radians)
    glare: Range  # peak strength of the glare band (0 none, 1 white)
    shading: Range  # depth of the uneven light over the scene
    noise: Range  # sensor noise at mid grey, grey levels
    sharpening: Range  # the phone's unsharp-mask amount
    jpeg_quality: tuple[int, int]


BANDS: dict[str, Band] = {band.name: band for band in (
    Band("mild", qr_mm=(12, 17), px_per_mm=(11, 17), blur_sigma=(0.3, 1.0), motion_px=(0, 1.5),
         perspective=(0, 0.06), rotation_deg=20, curved_share=0.3, curvature=(0.15, 0.4),
         glare=(0, 0.35), shading=(0, 0.3), noise=(1, 3), sharpening=(0, 0.6),
         jpeg_quality=(80, 95)),
    Band("medium", qr_mm=(10, 17), px_per_mm=(10, 17), blur_sigma=(0.8, 1.8),
         motion_px=(0, 3.5), perspective=(0.03, 0.12), rotation_deg=45, curved_share=0.5,
         curvature=(0.3, 0.65), glare=(0.25, 0.7), shading=(0.1, 0.45), noise=(2, 6),
         sharpening=(0, 0.8), jpeg_quality=(60, 85)),
    Band("hard", qr_mm=(10, 17), px_per_mm=(10, 17), blur_sigma=(1.2, 2.2), motion_px=(0, 5),
         perspective=(0.06, 1 / 6), rotation_deg=180, curved_share=0.6, curvature=(0.4, 0.8),
         glare=(0.45, 0.85), shading=(0.2, 0.55), noise=(3, 8), sharpening=(0, 1.0),
         jpeg_quality=(55, 75)),
)}
#: phone frames (width, height); the label's pixel size depends on the resolution, not on these
FRAMES = ((1600, 1200), (1200, 1600), (1920, 1440), (2000, 1500))
#: share of photos on a generated glaze even when the porcelain photos are present
GENERATED_SHARE = 0.2


@dataclass(frozen=True)
class LabelArt:
    """A rendered label (grayscale) and its QR symbol's corners in it (x, y; clockwise from
    top left), as zxing-cpp finds them on the clean label."""

    image: Image.Image
    symbol: tuple[tuple[float, float], ...]
    modules: int  # modules per side of the symbol

    def finder_centres(self) -> tuple[tuple[float, float], ...]:
        """The centres of the top-left, top-right and bottom-left finder patterns."""
        (x0, y0), (x1, y1), _, (x3, y3) = self.symbol
        near, far = 3.5 / self.modules, 1 - 3.5 / self.modules
        return tuple((x0 + a * (x1 - x0) + b * (x3 - x0), y0 + a * (y1 - y0) + b * (y3 - y0))
                     for a, b in ((near, near), (far, near), (near, far)))

    @property
    def symbol_side(self) -> float:
        (x0, y0), (x1, y1) = self.symbol[0], self.symbol[1]
        return math.hypot(x1 - x0, y1 - y0)


def label_art(image: Image.Image) -> LabelArt:
    """A label image with its QR symbol located (raises ValueError when it has none)."""
    import numpy as np
    import zxingcpp

    gray = image.convert("L")
    found = zxingcpp.read_barcodes(np.asarray(gray),
                                   formats=zxingcpp.barcode_formats_from_str("QRCode"))
    if not found:
        raise ValueError("the label has no readable QR code")
    extra = found[0].extra  # a dict (zxing-cpp's stub says object)
    assert isinstance(extra, dict)
    position = found[0].position
    corners = tuple((float(p.x), float(p.y)) for p in (position.top_left, position.top_right,
                                                      position.bottom_right,
                                                      position.bottom_left))
    return LabelArt(gray, corners, 17 + 4 * int(extra["Version"]))


@dataclass(frozen=True)
class FieldPhoto:
    """One simulated photo: its JPEG file and the values drawn for it (``symbol_corners``: where
    the QR symbol's corners are in the frame, clockwise from its top left; ``finder_centres``:
    its top-left, top-right and bottom-left finder patterns' centres)."""

    jpeg: bytes
    params: dict[str, Any]


@dataclass(frozen=True)
class _Draw:
    """The values drawn for one photo."""

    frame: tuple[int, int]
    symbol_px: float
    blur_sigma: float
    motion_px: float
    motion_angle: float
    corner_shifts: tuple[tuple[float, float], ...]
    rotation: float
    curvature: float
    facing: float  # angle on the body of the label's centre
    glare: float
    glare_angle: float
    glare_offset: float  # band centre from the symbol centre, share of the symbol side
    glare_width: float  # share of the symbol side
    shading: float
    noise: float
    sharpening: float
    jpeg_quality: int
    ink: float
    paper: float
    centre: tuple[float, float]  # label centre, share of the frame


def _draw(band: Band, rng: np.random.Generator) -> _Draw:
    def uniform(bounds: Range) -> float:
        return float(rng.uniform(*bounds))

    curved = rng.random() < band.curved_share
    curvature = uniform(band.curvature) if curved else 0.0
    shift = uniform(band.perspective)
    return _Draw(
        frame=FRAMES[int(rng.integers(len(FRAMES)))],
        symbol_px=uniform(band.qr_mm) * uniform(band.px_per_mm),
        blur_sigma=uniform(band.blur_sigma),
        motion_px=uniform(band.motion_px),
        motion_angle=float(rng.uniform(0, math.pi)),
        corner_shifts=tuple((float(x), float(y))
                            for x, y in rng.uniform(-shift, shift, size=(4, 2))),
        rotation=math.radians(float(rng.uniform(-band.rotation_deg, band.rotation_deg))),
        curvature=curvature,
        facing=float(rng.uniform(-0.25, 0.25)) if curved else 0.0,
        glare=uniform(band.glare),
        glare_angle=float(rng.uniform(0, math.pi)),
        glare_offset=float(rng.uniform(-0.5, 0.5)),
        glare_width=float(rng.uniform(0.1, 0.45)),
        shading=uniform(band.shading),
        noise=uniform(band.noise),
        sharpening=uniform(band.sharpening),
        jpeg_quality=int(rng.integers(band.jpeg_quality[0], band.jpeg_quality[1] + 1)),
        ink=float(rng.uniform(10, 70)),
        paper=float(rng.uniform(205, 250)),
        centre=(float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7))),
    )


def porcelain_photos() -> list[Path]:
    """The real porcelain photos, sorted ([] when the folder is absent)."""
    return sorted(PORCELAIN.glob("*.jpg")) if PORCELAIN.is_dir() else []


def field_photo(art: LabelArt, band: Band, seed: int,
                backgrounds: list[Path] | None = None) -> FieldPhoto:
    """The photo of ``art`` for ``band`` and ``seed`` (``backgrounds``: porcelain photos to use;
    by default those of :data:`PORCELAIN`)."""
    import cv2
    import numpy as np

    band_code = sum(band.name.encode())
    rng = np.random.default_rng([seed, band_code])
    draw = _draw(band, rng)
    backgrounds = porcelain_photos() if backgrounds is None else backgrounds
    width, height = draw.frame
    if backgrounds and rng.random() >= GENERATED_SHARE:
        source = backgrounds[int(rng.integers(len(backgrounds)))]
        scene = _porcelain_scene(source, width, height, rng)
        background_name = source.name
    else:
        scene = _generated_scene(width, height, rng)
        background_name = "generated"
    scene, symbol = _paste_label(scene, art, draw)
    scene = _light(scene, (float(symbol[:4, 0].mean()), float(symbol[:4, 1].mean())), draw, rng)
    photo = _camera(scene, draw, rng)
    rgb = cv2.cvtColor(photo, cv2.COLOR_BGR2RGB)
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=draw.jpeg_quality)
    params = asdict(draw)
    params.update(band=band.name, seed=seed, background=background_name,
                  symbol_corners=[(round(float(x), 1), round(float(y), 1)) for x, y in symbol[:4]],
                  finder_centres=[(round(float(x), 1), round(float(y), 1)) for x, y in symbol[4:]])
    return FieldPhoto(buffer.getvalue(), params)


def _porcelain_scene(path: Path, width: int, height: int,
                     rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """A porcelain photo filling the frame: scaled up past cover, cropped, maybe mirrored."""
    import cv2
    import numpy as np

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        return _generated_scene(width, height, rng)
    if rng.random() < 0.5:
        image = image[:, ::-1]
    cover = max(width / image.shape[1], height / image.shape[0]) * rng.uniform(1.0, 1.6)
    scaled = cv2.resize(image, (math.ceil(image.shape[1] * cover),
                                math.ceil(image.shape[0] * cover)),
                        interpolation=cv2.INTER_CUBIC)
    top = int(rng.integers(0, scaled.shape[0] - height + 1))
    left = int(rng.integers(0, scaled.shape[1] - width + 1))
    return np.asarray(scaled[top:top + height, left:left + width], dtype=np.float32)


def _generated_scene(width: int, height: int,
                     rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """A glaze: a tinted gradient, brush strokes of cobalt or enamel, fine crackle lines."""
    import cv2
    import numpy as np

    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    tint = rng.uniform(150, 235, size=3).astype(np.float32)
    angle = rng.uniform(0, math.pi)
    ramp = (x * math.cos(angle) + y * math.sin(angle)) / max(width, height)
    scene = tint[None, None, :] * (0.85 + 0.25 * ramp)[..., None]
    scene = np.ascontiguousarray(scene.clip(0, 255).astype(np.uint8))
    for _ in range(int(rng.integers(6, 30))):
        points = rng.integers(0, [width, height], size=(int(rng.integers(3, 7)), 2))
        colour = tuple(int(v) for v in rng.uniform(20, 200, size=3))
        cv2.polylines(scene, [points.astype(np.int32)], False, colour,
                      int(rng.integers(2, 25)), cv2.LINE_AA)
    scene = cv2.GaussianBlur(scene, (0, 0), float(rng.uniform(1, 6)))
    for _ in range(int(rng.integers(0, 60))):
        start = rng.integers(0, [width, height])
        end = start + rng.integers(-200, 200, size=2)
        cv2.line(scene, tuple(int(v) for v in start), tuple(int(v) for v in end),
                 (90, 90, 90), 1, cv2.LINE_AA)
    return np.asarray(scene, dtype=np.float32)


def _label_mapping(art: LabelArt, draw: _Draw) -> tuple[Any, Any, float, float]:
    """The homography from the (possibly curved) label's plane to the frame, the label's corners
    in the frame, the scale from label to frame pixels and the cylinder's radius (label pixels;
    0 for a flat label)."""
    import cv2
    import numpy as np

    scale = draw.symbol_px / art.symbol_side
    w, h = art.image.size
    if draw.curvature > 0:
        radius = (w / 2) / draw.curvature
        left = radius * (math.sin(draw.facing - draw.curvature) - math.sin(draw.facing))
        right = radius * (math.sin(draw.facing + draw.curvature) - math.sin(draw.facing))
    else:
        radius, left, right = 0.0, -w / 2, w / 2
    plane = np.array([[left, 0], [right, 0], [right, h], [left, h]], dtype=np.float64)
    centre = np.array([(left + right) / 2, h / 2])
    size = np.array([right - left, h])
    corners = (plane - centre) * scale
    corners += np.array(draw.corner_shifts) * size * scale
    turn = np.array([[math.cos(draw.rotation), -math.sin(draw.rotation)],
                     [math.sin(draw.rotation), math.cos(draw.rotation)]])
    corners = corners @ turn.T + np.array(draw.centre) * np.array(draw.frame)
    matrix = cv2.getPerspectiveTransform(plane.astype(np.float32), corners.astype(np.float32))
    return matrix, corners, scale, radius


def _paste_label(scene: npt.NDArray[np.float32], art: LabelArt,
                 draw: _Draw) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """The label (ink on decal paper) mapped into the scene through cylinder and perspective,
    sampled at twice the frame's resolution and averaged down (no aliasing); and where the
    symbol's corners and finder centres land in the frame."""
    import cv2
    import numpy as np

    matrix, corners, scale, radius = _label_mapping(art, draw)
    facing = draw.facing
    w, h = art.image.size
    x0, y0 = np.floor(corners.min(axis=0) - 2).astype(int).clip(0, None)
    x1, y1 = np.ceil(corners.max(axis=0) + 2).astype(int)
    x1, y1 = min(x1, scene.shape[1]), min(y1, scene.shape[0])
    symbol = _to_frame(np.array(art.symbol + art.finder_centres()), matrix, radius, facing, w)
    if x1 <= x0 or y1 <= y0:
        return scene, symbol
    oversample = 2
    ys, xs = np.mgrid[0:(y1 - y0) * oversample, 0:(x1 - x0) * oversample].astype(np.float64)
    frame_points = np.dstack([x0 + (xs + 0.5) / oversample - 0.5,
                              y0 + (ys + 0.5) / oversample - 0.5])
    inverse = np.linalg.inv(matrix)
    plane = cv2.perspectiveTransform(frame_points.reshape(1, -1, 2), inverse)[0]
    px, py = plane[:, 0], plane[:, 1]
    if radius > 0:  # the plane's x is R (sin(facing + s / R) - sin(facing)): undo it
        sine = px / radius + math.sin(facing)
        inside = np.abs(sine) < 1
        px = np.where(inside, (np.arcsin(sine.clip(-1, 1)) - facing) * radius + w / 2, -1e6)
        angle = np.where(inside, np.arcsin(sine.clip(-1, 1)), math.pi / 2)
    else:
        px = px + w / 2
        angle = np.zeros_like(px)
    # the label prefiltered to the sampling rate (twice the frame's), then read bilinearly
    factor = min(1.0, scale * oversample)
    source: MatLike = np.asarray(art.image, dtype=np.float32)
    if factor < 1:
        source = cv2.resize(source, (max(1, round(w * factor)), max(1, round(h * factor))),
                            interpolation=cv2.INTER_AREA)
    shape = (ys.shape[0], ys.shape[1])
    map_x = (px * factor).reshape(shape).astype(np.float32)
    map_y = (py * factor).reshape(shape).astype(np.float32)
    ink = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderValue=-1.0)
    mask = (ink >= 0).astype(np.float32)
    lambert = (0.7 + 0.3 * np.cos(angle)).reshape(shape).astype(np.float32)
    grey = (draw.ink + (draw.paper - draw.ink) * ink.clip(0, 255) / 255) * lambert
    label = cv2.resize(grey * mask, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    cover = cv2.resize(mask, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    region = scene[y0:y1, x0:x1]
    paper_tint = np.array([1.0, 0.99, 0.97], dtype=np.float32)  # BGR: warm paper
    scene[y0:y1, x0:x1] = (region * (1 - cover[..., None])
                           + label[..., None] * paper_tint[None, None, :])
    return scene, symbol


def _to_frame(points: npt.NDArray[np.float64], matrix: Any, radius: float, facing: float,
              width: int) -> npt.NDArray[np.float64]:
    """Label pixels (x, y) to frame pixels, through the cylinder and the homography."""
    import cv2
    import numpy as np

    arc = points[:, 0] - width / 2
    plane_x = radius * (np.sin(facing + arc / radius) - math.sin(facing)) if radius else arc
    plane = np.dstack([plane_x, points[:, 1]]).astype(np.float64)
    return np.asarray(cv2.perspectiveTransform(plane, matrix)[0], dtype=np.float64)


def _light(scene: npt.NDArray[np.float32], symbol_centre: tuple[float, float], draw: _Draw,
           rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """Uneven light over the scene and a glare band off the glaze near the symbol.

    Every light field is smooth, so it is computed on a grid a quarter of the frame's size and
    scaled up."""
    import cv2
    import numpy as np

    height, width = scene.shape[:2]
    step = 4
    y, x = np.mgrid[0:height:step, 0:width:step].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = (x * math.cos(angle) + y * math.sin(angle)) / max(width, height)
    ramp -= ramp.min()
    gain = 1 - draw.shading * ramp / max(float(ramp.max()), 1e-6)
    spot = np.array(symbol_centre) + rng.normal(0, 1, 2) * draw.symbol_px
    falloff = np.exp(-((x - spot[0]) ** 2 + (y - spot[1]) ** 2) / (2 * (0.8 * width) ** 2))
    gain *= 0.75 + 0.25 * falloff
    # a highlight stretched along the glaze: a band across the symbol, fading along its length
    across = np.array([math.cos(draw.glare_angle), math.sin(draw.glare_angle)])
    dx, dy = x - symbol_centre[0], y - symbol_centre[1]
    distance = dx * across[0] + dy * across[1] - draw.glare_offset * draw.symbol_px
    length = -dx * across[1] + dy * across[0]
    sigma = draw.glare_width * draw.symbol_px
    glare = draw.glare * np.exp(-distance**2 / (2 * sigma**2)
                                - length**2 / (2 * (2.5 * draw.symbol_px) ** 2))

    def full(field: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return np.asarray(cv2.resize(field.astype(np.float32), (width, height),
                                     interpolation=cv2.INTER_LINEAR)[..., None],
                          dtype=np.float32)

    lit = scene * full(gain)
    return np.asarray(lit + (255 - lit) * full(glare), dtype=np.float32)


def _camera(scene: MatLike, draw: _Draw,
            rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """Defocus, hand shake, sensor noise and the phone's sharpening, as 8-bit BGR."""
    import cv2
    import numpy as np

    if draw.blur_sigma > 0:
        scene = cv2.GaussianBlur(scene, (0, 0), draw.blur_sigma)
    if draw.motion_px >= 1:
        size = math.ceil(draw.motion_px) | 1
        kernel = np.zeros((size * 2 + 1, size * 2 + 1), dtype=np.float32)
        half = draw.motion_px / 2
        dx, dy = math.cos(draw.motion_angle) * half, math.sin(draw.motion_angle) * half
        cv2.line(kernel, (round((size - dx) * 16), round((size - dy) * 16)),
                 (round((size + dx) * 16), round((size + dy) * 16)), 1.0, 1, cv2.LINE_AA,
                 shift=4)
        scene = cv2.filter2D(scene, -1, kernel / kernel.sum())
    # shot noise grows with the signal, read noise does not (OpenCV's generator, seeded from
    # the photo's own, is four times as fast as numpy's on a 12-megasample frame)
    spread = cv2.sqrt(cv2.max(scene, 0.0) * (1 / 128.0)) * (0.5 * draw.noise) + 0.5 * draw.noise
    noise = np.empty_like(scene)
    cv2.setRNGSeed(int(rng.integers(2**31)))
    cv2.randn(noise, 0.0, 1.0)  # type: ignore[call-overload]  # the stub omits scalar mean, stddev
    scene = cv2.add(scene, cv2.multiply(noise, spread))
    if draw.sharpening > 0:
        soft = cv2.GaussianBlur(scene, (0, 0), 1.5)
        scene = cv2.addWeighted(scene, 1 + draw.sharpening, soft, -draw.sharpening, 0.0)
    return np.asarray(cv2.convertScaleAbs(cv2.max(scene, 0.0)), dtype=np.uint8)  # rounds
