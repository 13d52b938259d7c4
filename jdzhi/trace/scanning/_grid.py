"""Reading a QR symbol module by module, for photos zxing-cpp's own sampler cannot read.

zxing-cpp binarizes the whole photo and then samples the symbol on a grid it guesses from the
finder patterns as a flat square seen in perspective. A decal bent round a vase is no such
square, and heavy blur leaves its binarizer little to work with. Here the grid is fitted to the
photo instead: starting from rough centres of the three finder patterns, the symbol's corners
and its bend round a cylinder are adjusted (Levenberg-Marquardt) until the photo's grey levels
at the module centres match the modules every symbol of that size has (finders, separators,
timing and alignment patterns and the quiet zone), then again against all modules (the data
modules as first read). The modules are then read off that grid, the blur between neighbouring
modules undone on the grid itself, and the clean symbol redrawn for zxing-cpp to decode. What it
decodes is checked by the symbol's Reed-Solomon code and then by the label's signature, so a
misread grid can only fail to decode.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    FloatImage = npt.NDArray[np.float32]



@dataclass(frozen=True)
class Geometry:
    """Where a symbol of ``size`` modules lies in an image.

    The unit square of the symbol (module coordinates over ``size``) is first warped along each
    axis by a cubic that keeps its ends, which is how a decal bent round a cylinder (or a bulging
    body) spreads its modules: ``bend`` holds, for columns then rows, the coefficients of
    a (a - 1) (lopsided: the body turns away on one side) and a (a - 1/2) (a - 1) (symmetric: it
    turns away on both). The homography that takes its corners to ``corners`` (top left, top
    right, bottom right, bottom left, in pixels) then places it in the image.
    """

    size: int
    corners: FloatArray
    bend: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    def to_image(self, modules: FloatArray) -> FloatArray:
        """Image points (n, 2) of points in module coordinates (n, 2: column, row)."""
        import cv2
        import numpy as np

        unit = modules / self.size
        for axis, (lopsided, symmetric) in enumerate((self.bend[:2], self.bend[2:])):
            if lopsided or symmetric:
                a = unit[:, axis]
                unit[:, axis] = a + a * (a - 1) * (lopsided + symmetric * (a - 0.5))
        homography = _unit_square_homography(self.corners)
        return np.asarray(cv2.perspectiveTransform(unit.reshape(1, -1, 2), homography)[0])

    def with_params(self, params: FloatArray) -> Geometry:
        return Geometry(self.size, params[:8].reshape(4, 2),
                        (float(params[8]), float(params[9]), float(params[10]),
                         float(params[11])))

    @property
    def params(self) -> FloatArray:
        import numpy as np

        return np.concatenate([self.corners.ravel(), self.bend])


def _unit_square_homography(corners: FloatArray) -> FloatArray:
    """The homography taking (0,0), (1,0), (1,1), (0,1) to ``corners``."""
    import cv2
    import numpy as np

    unit = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float32)
    return np.asarray(cv2.getPerspectiveTransform(unit, corners.astype(np.float32)))


@dataclass(frozen=True)
class Pattern:
    """Modules whose lightness the fit expects: their centres (n, 2: column, row, in module
    coordinates) and lightness (0 dark, 1 light), centred on its mean."""

    centres: FloatArray
    centred: FloatArray
    spread: float

    @classmethod
    def of(cls, rows: FloatArray, cols: FloatArray, light: FloatArray) -> Pattern:
        import numpy as np

        centred = light - light.mean()
        return cls(np.stack([cols + 0.5, rows + 0.5], axis=1), centred,
                   max(float(centred @ centred), 1e-9))


@lru_cache(maxsize=8)
def function_pattern(size: int) -> Pattern:
    """The modules every symbol of ``size`` has: finder patterns with their separators, timing
    patterns, alignment patterns, the always-dark module and a ring of quiet zone."""
    return Pattern.of(*function_modules(size))


@lru_cache(maxsize=8)
def function_modules(size: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(rows, columns, lightness) of the modules every symbol of ``size`` has (see
    :func:`function_pattern`; the quiet ring is rows and columns -1 and ``size``)."""
    import numpy as np

    from jdzhi.trace.labels.qr import alignment_centres, version_for_size

    known = np.zeros((size + 2, size + 2), dtype=bool)  # index + 1: the quiet ring at 0
    light = np.ones((size + 2, size + 2), dtype=bool)
    known[0, :] = known[-1, :] = known[:, 0] = known[:, -1] = True

    def put(row: int, col: int, dark: bool) -> None:
        known[row + 1, col + 1] = True
        light[row + 1, col + 1] = not dark

    for top, left in ((0, 0), (0, size - 7), (size - 7, 0)):
        for i in range(-1, 8):
            for j in range(-1, 8):
                row, col = top + i, left + j
                if 0 <= row < size and 0 <= col < size:
                    put(row, col, max(abs(i - 3), abs(j - 3)) in (0, 1, 3))
    for k in range(8, size - 8):
        put(6, k, k % 2 == 0)
        put(k, 6, k % 2 == 0)
    centres = alignment_centres(version_for_size(size))
    for row in centres:
        for col in centres:
            if (row < 9 and col < 9) or (row < 9 and col > size - 10) or (
                    row > size - 10 and col < 9):
                continue  # where a finder pattern is
            for i in range(-2, 3):
                for j in range(-2, 3):
                    put(row + i, col + j, max(abs(i), abs(j)) != 1)
    put(size - 8, 8, True)
    rows, cols = np.nonzero(known)
    return (rows.astype(float) - 1, cols.astype(float) - 1,
            light[rows, cols].astype(float))


def sample(image: FloatImage, points: FloatArray) -> FloatArray:
    """Bilinear samples of ``image`` at ``points`` (n, 2); outside the image reads as NaN."""
    import cv2
    import numpy as np

    xy = points.astype(np.float32).reshape(1, -1, 2)
    values = cv2.remap(image, xy, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                       borderValue=float("nan"))
    return np.asarray(values.ravel(), dtype=np.float64)


def _residuals(image: FloatImage, geometry: Geometry, pattern: Pattern) -> FloatArray:
    """How far the samples at the modules are from the best straight-line fit of the expected
    lightness (offset and contrast are free: glare and exposure vary), in units of contrast."""
    import numpy as np

    values = sample(image, geometry.to_image(pattern.centres))
    total = float(values.sum())
    if not math.isfinite(total):
        return np.full_like(values, 1e3)
    slope = max(float(pattern.centred @ values) / pattern.spread, 1e-3)  # light above dark
    return np.asarray((values - total / len(values)) / slope - pattern.centred)


def _cost(image: FloatImage, geometry: Geometry, pattern: Pattern) -> float:
    residual = _residuals(image, geometry, pattern)
    return float(residual @ residual) / len(residual)


def refine(image: FloatImage, geometry: Geometry, pattern: Pattern, *, iterations: int = 12,
           fit_bend: bool = True) -> tuple[Geometry, float]:
    """The geometry adjusted (Levenberg-Marquardt, numerical derivatives) to match ``pattern``
    in ``image``, and its cost (mean square residual, in units of the fitted contrast)."""
    import numpy as np

    steps = np.array([0.3] * 8 + [0.01] * 4)
    free = np.arange(12 if fit_bend else 8)
    params = geometry.params
    current = _residuals(image, geometry, pattern)
    cost = float(current @ current)
    damping = 1e-2
    for _ in range(iterations):
        jacobian = np.empty((len(current), len(free)))
        for column, index in enumerate(free):
            moved = params.copy()
            moved[index] += steps[index]
            jacobian[:, column] = (_residuals(image, geometry.with_params(moved), pattern)
                                   - current) / steps[index]
        normal = jacobian.T @ jacobian
        gradient = jacobian.T @ current
        for _ in range(4):
            try:
                delta = np.linalg.solve(normal + damping * np.diag(np.diag(normal) + 1e-9),
                                        -gradient)
            except np.linalg.LinAlgError:
                break
            trial = params.copy()
            trial[free] += delta
            trial[8:] = trial[8:].clip(-0.6, 0.6)  # beyond, the warp folds over
            candidate = geometry.with_params(trial)
            residual = _residuals(image, candidate, pattern)
            trial_cost = float(residual @ residual)
            if trial_cost < cost:
                params, geometry, current, cost = trial, candidate, residual, trial_cost
                damping = max(damping / 3, 1e-4)
                break
            damping *= 4
        else:
            break  # no step helps: converged
    return geometry, cost / max(len(current), 1)


def from_finders(size: int, top_left: FloatArray, top_right: FloatArray,
                 bottom_left: FloatArray) -> Geometry:
    """The flat geometry whose finder centres are the three given points (an affine map)."""
    import numpy as np

    near, far = 3.5 / size, 1 - 3.5 / size
    across = (top_right - top_left) / (far - near)
    down = (bottom_left - top_left) / (far - near)
    origin = top_left - near * across - near * down
    corners = np.array([origin, origin + across, origin + across + down, origin + down])
    return Geometry(size, corners)


def module_values(image: FloatImage, geometry: Geometry) -> FloatArray:
    """The grey level at every module centre (size x size)."""
    import numpy as np

    n = geometry.size
    rows, cols = np.mgrid[0:n, 0:n].astype(float)
    centres = np.stack([cols.ravel() + 0.5, rows.ravel() + 0.5], axis=1)
    return sample(image, geometry.to_image(centres)).reshape(n, n)


#: far-corner positions given a few steps of fitting each
SEARCH_KEEP = 8
#: bends tried while searching for the far corner: flat, and bent either way along either axis
#: (about what a decal covering 45 degrees of a body's turn shows)
_SEARCH_BENDS = ((0.0, 0.0, 0.0, 0.0), (0.12, 0.0, 0.0, 0.0), (-0.12, 0.0, 0.0, 0.0),
                 (0.0, 0.0, 0.12, 0.0), (0.0, 0.0, -0.12, 0.0))


def search_far_corner(coarse: FloatImage, medium: FloatImage, geometry: Geometry,
                      pattern: Pattern, *, reach: int = 8, keep: int = 4) -> list[Geometry]:
    """The ``keep`` best of the geometry with its bottom-right corner moved up to ``reach``
    modules each way and bent in a few ways: three finder centres say nothing of perspective or
    bend, and the fit finds the alignment pattern only from within a module or so.

    Every second module on ``coarse`` (blurred by a module: the quiet zone's edges and the
    alignment pattern still show), then every module around the best of those on ``medium``.
    """
    corners = geometry.corners
    across = (corners[1] - corners[0]) / geometry.size
    down = (corners[3] - corners[0]) / geometry.size

    def moved(i: int, j: int, bend: tuple[float, float, float, float]) -> Geometry:
        shifted = corners.copy()
        shifted[2] = corners[2] + i * across + j * down
        return Geometry(geometry.size, shifted, bend)

    def best(image: FloatImage, offsets: Iterable[tuple[int, int, int]], count: int
             ) -> list[tuple[int, int, int]]:
        scored = sorted((_cost(image, moved(i, j, _SEARCH_BENDS[b]), pattern), (i, j, b))
                        for i, j, b in offsets)
        return [offset for _, offset in scored[:count]]

    steps = range(-reach, reach + 1, 2)
    rough = best(coarse, ((i, j, b) for b in range(len(_SEARCH_BENDS)) for i in steps
                          for j in steps), 4 * keep)
    near = {(i + di, j + dj, b) for i, j, b in rough for di in (-1, 0, 1) for dj in (-1, 0, 1)}
    return [moved(i, j, _SEARCH_BENDS[b]) for i, j, b in best(medium, sorted(near), keep)]


def symbol_sizes(module: float, top_left: FloatArray, top_right: FloatArray,
                 bottom_left: FloatArray) -> list[int]:
    """Symbol sizes (modules per side) that fit finder centres this far apart for modules of
    about ``module`` pixels, the likeliest first."""
    import numpy as np

    between = float(np.mean([np.hypot(*(top_right - top_left)),
                             np.hypot(*(bottom_left - top_left))])) / module
    estimate = between + 7
    sizes = sorted(range(21, 178, 4), key=lambda size: abs(size - estimate))
    return [size for size in sizes[:2] if abs(size - estimate) < 0.2 * estimate + 2]


def fit(image: FloatImage, module: float, start: Geometry) -> tuple[Geometry, float]:
    """The symbol's geometry in ``image`` (normalised: dark modules negative) and its residual,
    from a ``start`` within a module or so at the finder patterns.

    Coarse to fine: the start is first adjusted on an image blurred by a module (a wide catch),
    the far corner and bend are searched (three finder centres say nothing of perspective, and
    zxing-cpp's far corner is what it got wrong when it could not decode) and fitted on one
    blurred by half a module, and the best two fits are finished against all modules on one
    blurred by a quarter (flat module interiors would leave the fit no slope to follow), the
    modules as read at each step with the blur undone.
    """
    import cv2
    import numpy as np

    size = start.size
    pattern = function_pattern(size)
    coarse, medium, fine = (np.asarray(cv2.GaussianBlur(image, (0, 0), blur * module),
                                       dtype=np.float32) for blur in (1.0, 0.5, 0.25))
    start, _ = refine(coarse, start, pattern, fit_bend=False)
    # a few steps from each of the best far corners, then the best two of those in full
    trials = sorted((refine(medium, candidate, pattern, iterations=3) for candidate in
                     search_far_corner(coarse, medium, start, pattern, keep=SEARCH_KEEP)),
                    key=lambda entry: entry[1])
    fits = sorted((refine(medium, candidate, pattern) for candidate, _ in trials[:2]),
                  key=lambda entry: entry[1])
    rows, cols = (axis.ravel().astype(float) for axis in np.mgrid[0:size, 0:size])
    best = (start, math.inf)
    for geometry, _ in fits:
        cost = math.inf
        for _ in range(2):
            lightness = _deblurred(module_values(image, geometry)).ravel()
            geometry, cost = refine(fine, geometry,
                                    Pattern.of(rows, cols, (lightness > 0.5).astype(float)),
                                    iterations=6)
        if cost < best[1]:
            best = (geometry, cost)
    return best


def readings(values: FloatArray) -> list[npt.NDArray[np.bool_]]:
    """Candidate dark-module matrices from the grey levels at the module centres: as they are
    (dark where below the middle) and with the blur between neighbours undone; each with the
    function patterns drawn in as every symbol has them."""
    size = values.shape[0]
    rows, cols, light = function_modules(size)
    inside = (rows >= 0) & (rows < size) & (cols >= 0) & (cols < size)
    known_rows, known_cols = rows[inside].astype(int), cols[inside].astype(int)
    known_dark = light[inside] < 0.5
    found = []
    for dark in (values < 0, _deblurred(values) < 0.5):
        dark = dark.copy()
        dark[known_rows, known_cols] = known_dark
        found.append(dark)
    return found


#: neighbour pairs whose blur is measured and undone: a motion blur mixes a module with its
#: neighbours along the shake more than with those across it, so each direction has its weight
#: (a wider neighbourhood, measured on the few modules around which all are known, overfits)
_PAIRS = (((0, 1), (0, -1)), ((1, 0), (-1, 0)), ((1, 1), (-1, -1)), ((1, -1), (-1, 1)))


def _deblurred(values: FloatArray) -> FloatArray:
    """Each module's lightness (0 dark, 1 light) with its neighbours' blur taken out.

    Blur mixes a module's grey level with its eight neighbours'. The mix (a weight for the
    module itself, one for each pair of opposite neighbours, and an offset) is measured on the
    modules whose neighbourhoods are all known (finders, separators, the quiet zone), then
    undone module by module, a few sweeps, each lightness kept within 0..1.
    """
    import numpy as np

    size = values.shape[0]
    rows, cols, light = function_modules(size)
    known = np.full((size + 2, size + 2), np.nan)
    known[rows.astype(int) + 1, cols.astype(int) + 1] = light
    grey = np.pad(values, 1, constant_values=np.nan)

    def pair_sums(image: FloatArray) -> list[FloatArray]:
        padded = np.pad(image, 1, constant_values=1.0)  # beyond the quiet ring: light
        n = size + 2

        def shifted(dy: int, dx: int) -> FloatArray:
            return np.asarray(padded[1 + dy:1 + dy + n, 1 + dx:1 + dx + n])

        return [shifted(*first) + shifted(*second) for first, second in _PAIRS]

    sums = pair_sums(known)
    usable = np.isfinite(known) & np.isfinite(grey)
    for total in sums:
        usable &= np.isfinite(total)
    if usable.sum() < 30:
        return np.asarray((values > 0).astype(float))
    design = np.stack([np.ones(int(usable.sum())), known[usable],
                       *(total[usable] for total in sums)], axis=1)
    weights, *_ = np.linalg.lstsq(design, grey[usable], rcond=None)
    offset, own, neighbour_weights = weights[0], weights[1], weights[2:]
    if own <= 1e-6:
        return np.asarray((values > 0).astype(float))
    unknown = ~np.isfinite(known)
    filled = np.nan_to_num(grey, nan=0.0)
    lightness = np.where(unknown, filled > 0, known).astype(float)
    for _ in range(8):
        mixed = sum(weight * total for weight, total in zip(neighbour_weights,
                                                            pair_sums(lightness), strict=True))
        estimate = (filled - offset - mixed) / own
        lightness[unknown] = np.clip(estimate[unknown], 0.0, 1.0)
    return np.asarray(lightness[1:-1, 1:-1])


def rendered(dark: npt.NDArray[np.bool_], scale: int = 4) -> npt.NDArray[np.uint8]:
    """The symbol drawn clean: ``scale`` pixels per module and a four-module quiet zone."""
    import numpy as np

    light = np.pad(~dark, 4, constant_values=True)
    return np.asarray(light.repeat(scale, 0).repeat(scale, 1), dtype=np.uint8) * np.uint8(255)
