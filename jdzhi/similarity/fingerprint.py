"""What the screening compares: PDQ hashes of an image's views and its ORB keypoints.

A registered work keeps two PDQ hashes (the photo, and the photo with its uniform background
trimmed) and up to :data:`ORB_FEATURES` ORB keypoints. A submission is hashed in many more views:
the 8 flips and quarter turns of both, plus a few small rotations, so that a mirrored, turned,
bordered or slightly rotated copy still lands near the registered hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from jdzhi.similarity.images import LoadedImage, trim_background
from jdzhi.similarity.modifications import Modification, rotated

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "DIHEDRAL_MODIFICATIONS",
    "ORB_FEATURES",
    "PDQ_BYTES",
    "PDQ_SIDE",
    "SMALL_ROTATIONS",
    "WORK_VIEWS",
    "Keypoints",
    "QueryFingerprint",
    "QueryView",
    "WorkFingerprint",
    "orb_keypoints",
    "query_fingerprint",
    "unpack_hashes",
    "work_fingerprint",
]

#: bytes of one PDQ hash (256 bits)
PDQ_BYTES = 32
#: registered views per work: the photo and the background-trimmed photo
WORK_VIEWS = ("photo", "trimmed")
#: keypoints kept per image
ORB_FEATURES = 500
#: the long side images are reduced to before PDQ hashing: one scale for every image, so that a
#: copy at another resolution hashes alike (and PDQ runs four times faster than at 512)
PDQ_SIDE = 256
#: small rotations (degrees) tried on submissions, beyond the 8 flips and quarter turns
SMALL_ROTATIONS = (-8.0, -4.0, 4.0, 8.0)

_MIRRORED = Modification("mirrored")
#: what each of the 8 flips and quarter turns of :func:`_pdq_dihedral` undoes when it matches
DIHEDRAL_MODIFICATIONS: tuple[tuple[Modification, ...], ...] = (
    (),
    (rotated(90),),
    (rotated(180),),
    (rotated(90),),
    (Modification("flipped"),),
    (_MIRRORED,),
    (_MIRRORED, rotated(90)),
    (_MIRRORED, rotated(90)),
)


@dataclass(frozen=True)
class QueryView:
    """One hashed view of a submission and the modification it undoes when it matches."""

    view: Literal["photo", "trimmed"]
    modifications: tuple[Modification, ...]


@dataclass(frozen=True)
class Keypoints:
    points: npt.NDArray[np.float32]  # (n, 2) x, y in the WORK_SIDE-reduced image
    descriptors: npt.NDArray[np.uint8]  # (n, 32)

    def to_blobs(self) -> tuple[bytes, bytes]:
        return self.points.astype("<f4").tobytes(), self.descriptors.tobytes()

    @staticmethod
    def from_blobs(points: bytes, descriptors: bytes) -> Keypoints:
        import numpy as np

        return Keypoints(points=np.frombuffer(points, dtype="<f4").reshape(-1, 2),
                         descriptors=np.frombuffer(descriptors, dtype=np.uint8).reshape(-1, 32))


@dataclass(frozen=True)
class WorkFingerprint:
    """The registered side: :data:`WORK_VIEWS` hashes (64 bytes) and the keypoints."""

    pdq: bytes
    quality: int
    keypoints: Keypoints


@dataclass(frozen=True)
class QueryFingerprint:
    """The submission side: one packed hash per view (``hashes`` is (len(views), 32) bytes)."""

    hashes: npt.NDArray[np.uint8]
    views: tuple[QueryView, ...]
    keypoints: Keypoints
    #: ORB descriptors are not mirror-symmetric: a mirrored copy matches the mirrored submission
    mirrored_keypoints: Keypoints
    quality: int


def _pdq_input(gray: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    import cv2
    import numpy as np

    height, width = gray.shape
    scale = PDQ_SIDE / max(height, width)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        gray = np.asarray(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    return np.asarray(cv2.cvtColor(np.ascontiguousarray(gray), cv2.COLOR_GRAY2RGB),
                      dtype=np.uint8)


def _pdq(gray: npt.NDArray[np.uint8]) -> tuple[bytes, int]:
    import numpy as np
    import pdqhash

    bits, quality = pdqhash.compute(_pdq_input(gray))
    return np.packbits(bits.astype(np.uint8)).tobytes(), int(quality)


def _pdq_dihedral(gray: npt.NDArray[np.uint8]) -> tuple[list[bytes], int]:
    """PDQ of the 8 flips and quarter turns, each hashed from the transformed pixels (pdqhash's
    own dihedral variants, derived from one DCT, differ from them by up to 20 bits). The image
    is reduced to :data:`PDQ_SIDE` once and the reduced pixels are turned."""
    import cv2
    import numpy as np
    import pdqhash

    rgb = _pdq_input(gray)
    turned = cv2.rotate(rgb, cv2.ROTATE_180)
    # in the order of DIHEDRAL_MODIFICATIONS (OpenCV copies turned pixels several times faster
    # than numpy copies its strided views)
    views = [rgb, cv2.rotate(rgb, cv2.ROTATE_90_COUNTERCLOCKWISE), turned,
             cv2.rotate(rgb, cv2.ROTATE_90_CLOCKWISE), cv2.flip(rgb, 0), cv2.flip(rgb, 1),
             cv2.transpose(rgb), cv2.transpose(turned)]
    hashes = []
    qualities = []
    for view in views:
        bits, quality = pdqhash.compute(np.asarray(view, dtype=np.uint8))
        hashes.append(np.packbits(bits.astype(np.uint8)).tobytes())
        qualities.append(int(quality))
    return hashes, qualities[0]


def orb_keypoints(gray: npt.NDArray[np.uint8]) -> Keypoints:
    import cv2
    import numpy as np

    orb = cv2.ORB_create(  # type: ignore[attr-defined]
        nfeatures=ORB_FEATURES, fastThreshold=10)
    found, descriptors = orb.detectAndCompute(gray, None)
    if descriptors is None or not found:
        return Keypoints(points=np.zeros((0, 2), np.float32),
                         descriptors=np.zeros((0, 32), np.uint8))
    # strongest first (ORB's Harris score): the retrieval index keeps only the first few
    order = np.argsort([-k.response for k in found], kind="stable")
    points = np.array([k.pt for k in found], dtype=np.float32)[order]
    return Keypoints(points=np.ascontiguousarray(points),
                     descriptors=np.ascontiguousarray(descriptors[order], np.uint8))


def work_fingerprint(image: LoadedImage) -> WorkFingerprint:
    photo, quality = _pdq(image.gray)
    trimmed, _ = _pdq(trim_background(image.gray))
    return WorkFingerprint(pdq=photo + trimmed, quality=quality,
                           keypoints=orb_keypoints(image.gray))


def _rotated(gray: npt.NDArray[np.uint8], degrees: float) -> npt.NDArray[np.uint8]:
    import cv2
    import numpy as np

    height, width = gray.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    rotated = cv2.warpAffine(gray, matrix, (width, height), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(rotated, dtype=np.uint8)


def query_fingerprint(image: LoadedImage) -> QueryFingerprint:
    import numpy as np

    hashes: list[bytes] = []
    views: list[QueryView] = []
    trimmed = trim_background(image.gray)
    photo_hashes, quality = _pdq_dihedral(image.gray)
    dihedral: tuple[tuple[Literal["photo", "trimmed"], list[bytes]], ...] = (
        ("photo", photo_hashes), ("trimmed", _pdq_dihedral(trimmed)[0]))
    for view, view_hashes in dihedral:
        for index, packed in enumerate(view_hashes):
            hashes.append(packed)
            views.append(QueryView(view, DIHEDRAL_MODIFICATIONS[index]))
    for degrees in SMALL_ROTATIONS:
        packed, _ = _pdq(trim_background(_rotated(image.gray, degrees)))
        hashes.append(packed)
        views.append(QueryView("trimmed", (rotated(degrees),)))
    packed_array = np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(-1, PDQ_BYTES)
    return QueryFingerprint(hashes=packed_array, views=tuple(views),
                            keypoints=orb_keypoints(image.gray),
                            mirrored_keypoints=orb_keypoints(
                                np.ascontiguousarray(image.gray[:, ::-1])),
                            quality=quality)


def unpack_hashes(blob: bytes) -> npt.NDArray[np.uint8]:
    """Packed PDQ bytes as (n, 32) rows, the layout of the hash index."""
    import numpy as np

    return np.frombuffer(blob, dtype=np.uint8).reshape(-1, PDQ_BYTES)
