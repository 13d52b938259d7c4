"""Opening images people hand to jdzhi (label photos, design images): the one safe way.

Images are untrusted input: a decompression bomb (more than :data:`MAX_PIXELS` pixels), an
oversized, truncated or damaged file, or a file that is no image raises :class:`UnreadableImage`
with a one-line reason, never a crash. The QR scanner and the design screening both open images
through :func:`load_gray`.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["DRAFT_SIDE", "MAX_FILE_BYTES", "MAX_PIXELS", "UnreadableImage", "load_gray"]

#: images above this many pixels are refused as possible decompression bombs (100 megapixels)
MAX_PIXELS = 100_000_000
#: image files larger than this are refused before they are read
MAX_FILE_BYTES = 200 * 1024 * 1024
#: JPEGs are decoded at a reduced scale, still at least this on their long side: the most any
#: user needs (the QR decoder's working size)
DRAFT_SIDE = 2400


class UnreadableImage(Exception):
    """The file is not an image jdzhi can read; the message says why (one line)."""


def load_gray(path: Path) -> npt.NDArray[np.uint8]:
    """The photo as an 8-bit grayscale array (EXIF rotation applied); raises UnreadableImage."""
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        size = path.stat().st_size
    except OSError as error:
        raise UnreadableImage(f"cannot read the file: {error.strerror}") from None
    if size > MAX_FILE_BYTES:
        raise UnreadableImage(f"file of {size} bytes is larger than {MAX_FILE_BYTES} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PIL's complaints about damaged metadata
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                width, height = opened.size
                if width * height > MAX_PIXELS:
                    raise UnreadableImage(
                        f"image of {width} x {height} pixels is larger than the "
                        f"{MAX_PIXELS // 1_000_000} megapixel limit (possible decompression bomb)")
                opened.draft("L", (DRAFT_SIDE, DRAFT_SIDE))  # JPEG: decode at reduced size
                image = ImageOps.exif_transpose(opened.convert("L"))
                return np.asarray(image, dtype=np.uint8)
    except UnreadableImage:
        raise
    except UnidentifiedImageError:
        raise UnreadableImage("not an image file (or an image format jdzhi cannot read)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnreadableImage("image is larger than the pixel limit (possible decompression "
                              "bomb)") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise UnreadableImage(
            f"damaged or truncated image ({' '.join(str(error).split())[:120]})") from None
