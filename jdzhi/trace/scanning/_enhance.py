"""Image clean-up for a QR symbol cut out of a phone photo: scale, light and blur.

Everything here works on a small crop around one symbol, so it costs a few milliseconds however
large the photo is.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Gray = npt.NDArray[np.uint8]
    FloatImage = npt.NDArray[np.float32]

#: grey-level variance added before dividing by the local contrast, so that flat paper (whose
#: only variation is noise) is not stretched into noise at full contrast
FLAT_VARIANCE = 25.0
#: the noise-to-signal power ratio that damps deconvolution where the blur leaves only noise
DECONVOLUTION_NOISE = 0.01


def crop(gray: Gray, centre: tuple[float, float], side: float) -> tuple[Gray, tuple[int, int]]:
    """The square of ``side`` pixels around ``centre`` (cut at the image's edges) and the
    position of its top-left pixel in ``gray``."""
    height, width = gray.shape
    half = side / 2
    left = max(0, int(centre[0] - half))
    top = max(0, int(centre[1] - half))
    right = min(width, int(centre[0] + half) + 1)
    bottom = min(height, int(centre[1] + half) + 1)
    return gray[top:bottom, left:right], (left, top)


def rescaled(gray: Gray, factor: float) -> Gray:
    """``gray`` scaled by ``factor`` (cubic up, area averaging down)."""
    import cv2
    import numpy as np

    if abs(factor - 1) < 0.05:
        return gray
    size = (max(1, round(gray.shape[1] * factor)), max(1, round(gray.shape[0] * factor)))
    method = cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA
    return np.asarray(cv2.resize(gray, size, interpolation=method), dtype=np.uint8)


def normalised(gray: Gray, sigma: float) -> FloatImage:
    """Local contrast normalisation: each pixel's distance from the mean of its surroundings
    (Gaussian, ``sigma`` pixels) in units of their standard deviation.

    Glare and shade change the paper's brightness and the ink's contrast slowly compared with
    the modules; dividing them out leaves dark modules negative and light ones positive across
    the whole symbol, where one global threshold would lose the glared part.
    """
    import numpy as np

    image = gray.astype(np.float32)
    deviation = image - smooth(image, sigma)
    variance = smooth(deviation * deviation, sigma)
    return np.asarray(deviation / np.sqrt(variance + FLAT_VARIANCE), dtype=np.float32)


def smooth(image: FloatImage, sigma: float) -> FloatImage:
    """A Gaussian blur of ``sigma`` pixels; a wide one is taken at reduced scale (it keeps no
    detail finer than sigma anyway), which keeps its cost that of a narrow one."""
    import cv2
    import numpy as np

    reduction = int(sigma // 3)
    if reduction < 2:
        return np.asarray(cv2.GaussianBlur(image, (0, 0), sigma), dtype=np.float32)
    height, width = image.shape
    small = cv2.resize(image, (max(1, width // reduction), max(1, height // reduction)),
                       interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / reduction)
    return np.asarray(cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR),
                      dtype=np.float32)


def sharpened(image: FloatImage, sigma: float, amount: float) -> FloatImage:
    """Unsharp masking: adds back ``amount`` times what a blur of ``sigma`` takes away."""
    import cv2
    import numpy as np

    soft = cv2.GaussianBlur(image, (0, 0), sigma)
    return np.asarray(image + amount * (image - soft), dtype=np.float32)


def to_gray(image: FloatImage, contrast: float = 60.0) -> Gray:
    """A normalised image as 8-bit grey (0 at mid grey, ``contrast`` grey levels per unit)."""
    import numpy as np

    return np.asarray(np.clip(128 + contrast * image, 0, 255), dtype=np.uint8)



def deconvolved(gray: Gray, sigma: float, noise: float = DECONVOLUTION_NOISE) -> Gray:
    """``gray`` with a Gaussian blur of ``sigma`` pixels undone (a Wiener filter).

    Defocus and hand shake spread each module over its neighbours; once the blur is wider than
    about half a module, no threshold separates a lone dark module from a light one between
    dark ones. Dividing the blur's transfer out of the spectrum (damped by ``noise``, the
    noise-to-signal power ratio, where the blur leaves little but noise) restores that contrast.
    A Gaussian stands in for any blur of about that width (a short motion blur too).
    """
    import cv2
    import numpy as np

    restored = cv2.filter2D(gray.astype(np.float32), -1, _wiener_kernel(sigma, noise),
                            borderType=cv2.BORDER_REFLECT)
    return np.asarray(np.clip(restored, 0, 255), dtype=np.uint8)


@lru_cache(maxsize=4)
def _wiener_kernel(sigma: float, noise: float) -> FloatImage:
    """The Wiener filter for a Gaussian blur as a small kernel (convolving with it costs less
    than a transform of the whole crop): it is computed on a 64-pixel period and cut to where
    all but a few thousandths of its energy lies, then scaled to keep the mean grey level."""
    import numpy as np

    period, reach = 64, math.ceil(5.5 * sigma)
    rows = np.fft.fftfreq(period)[:, None]
    cols = np.fft.fftfreq(period)[None, :]
    transfer = np.exp(-2 * np.pi**2 * sigma**2 * (rows**2 + cols**2))
    kernel = np.fft.fftshift(np.real(np.fft.ifft2(transfer / (transfer**2 + noise))))
    middle = period // 2
    kernel = kernel[middle - reach:middle + reach + 1, middle - reach:middle + reach + 1]
    return np.asarray(kernel / kernel.sum(), dtype=np.float32)
