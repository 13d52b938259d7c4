"""Screening submissions against every registered work: hashes first, then keypoints.

Stage 1 (cheap, explainable): the submission's PDQ views (flips, quarter turns, trimmed
background, small rotations) against the two hashes of every work, one vectorized XOR-popcount
over a packed ``uint64`` matrix. Stage 2 (crops, perspective, pasting into another picture): the
submission's ORB keypoints against all registered keypoints (brute-force Hamming, ratio test)
retrieve candidate works independently of the hash; the best few are verified by a RANSAC
homography that must be a plausible view of the work (orientation kept, bounded scale and skew,
enough inliers spread over the work).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import InvalidInput
from jdzhi.similarity.fingerprint import WORK_VIEWS, Keypoints, QueryFingerprint

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import sqlite_utils

COPY = "copy"
REVIEW = "review"
CLEAR = "clear"
ERROR = "error"

#: PDQ distance (of 256 bits) at or below which a hash match is a copy; PDQ's own
#: recommended match threshold. Unrelated look-alike porcelain photos measured >= 52 here.
COPY_DISTANCE = 31
#: PDQ distance at or below which a human should look
REVIEW_DISTANCE = 40
#: RANSAC inliers of a sane homography that make a copy / a review
COPY_INLIERS = 30
REVIEW_INLIERS = 15
#: registered works verified geometrically per submission (best keypoint votes, best hashes)
VERIFY_BY_VOTES = 4
VERIFY_BY_HASH = 2
RATIO = 0.8


@dataclass(frozen=True)
class Match:
    work_id: int
    reg_no: str
    title: str
    distance: int  # best PDQ distance over all views (0-256)
    score: float  # 0-1 similarity
    inliers: int  # keypoints agreeing on one homography (0 when not verified)
    modification: str | None
    evidence: str  # "hash", "keypoints" or "hash+keypoints"

    def to_json(self) -> dict[str, Any]:
        return {"reg_no": self.reg_no, "title": self.title, "distance": self.distance,
                "score": self.score, "inliers": self.inliers, "modification": self.modification,
                "evidence": self.evidence}


@dataclass(frozen=True)
class Screening:
    image: str
    verdict: str  # copy, review, clear or error
    matches: tuple[Match, ...] = ()
    error: str | None = None
    thumbnail: bytes | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"image": self.image, "verdict": self.verdict,
                                "matches": [match.to_json() for match in self.matches]}
        if self.error is not None:
            data["error"] = self.error
        return data


@dataclass(frozen=True)
class WorkIndex:
    """Every registered work's hashes and keypoints in memory, ready to screen against."""

    ids: npt.NDArray[np.int64]
    reg_nos: tuple[str, ...]
    titles: tuple[str, ...]
    chroma: npt.NDArray[np.float32]  # (n, 2)
    sizes: npt.NDArray[np.int32]  # (n, 2) width, height of the WORK_SIDE-reduced image
    hashes: npt.NDArray[np.uint64]  # (n * len(WORK_VIEWS), 4)
    keypoints: tuple[Keypoints, ...]
    descriptors: npt.NDArray[np.uint8]  # all keypoints' descriptors stacked (m, 32)
    descriptor_owner: npt.NDArray[np.int32]  # (m,) position of the work in this index

    def __len__(self) -> int:
        return len(self.ids)


def load_index(db: sqlite_utils.Database) -> WorkIndex:
    import numpy as np

    from jdzhi.similarity.fingerprint import unpack_hashes
    from jdzhi.similarity.images import WORK_SIDE

    cursor = db.execute(
        "SELECT w.id, w.reg_no, w.title, w.chroma_a, w.chroma_b, w.width, w.height, w.pdq, "
        "f.points, f.descriptors FROM works w JOIN work_features f ON f.work_id = w.id "
        "ORDER BY w.id")
    rows = cursor.fetchall()
    keypoints = tuple(Keypoints.from_blobs(row[8], row[9]) for row in rows)
    sizes = []
    for row in rows:
        scale = min(1.0, WORK_SIDE / max(row[5], row[6]))
        sizes.append((round(row[5] * scale), round(row[6] * scale)))
    owner = np.concatenate([np.full(len(k.descriptors), i, np.int32)
                            for i, k in enumerate(keypoints)] or [np.zeros(0, np.int32)])
    descriptors = (np.concatenate([k.descriptors for k in keypoints]) if keypoints
                   else np.zeros((0, 32), np.uint8))
    return WorkIndex(
        ids=np.array([row[0] for row in rows], dtype=np.int64),
        reg_nos=tuple(row[1] for row in rows), titles=tuple(row[2] for row in rows),
        chroma=np.array([(row[3], row[4]) for row in rows], dtype=np.float32).reshape(-1, 2),
        sizes=np.array(sizes, dtype=np.int32).reshape(-1, 2),
        hashes=(unpack_hashes(b"".join(row[7] for row in rows)) if rows
                else np.zeros((0, 4), np.uint64)),
        keypoints=keypoints, descriptors=np.ascontiguousarray(descriptors),
        descriptor_owner=owner)


def hash_distances(hashes: npt.NDArray[np.uint64], query: npt.NDArray[np.uint64]
                   ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """Per work: the smallest Hamming distance between any query view and any work view, and
    the query view that reached it. ``hashes`` is (n * views, 4), ``query`` (q, 4)."""
    import numpy as np

    views = len(WORK_VIEWS)
    works = len(hashes) // views
    best = np.full(works, 257, dtype=np.int32)
    best_view = np.zeros(works, dtype=np.int32)
    for index, row in enumerate(query):
        distance = np.bitwise_count(hashes ^ row).sum(axis=1, dtype=np.int32)
        per_work = distance.reshape(works, views).min(axis=1)
        better = per_work < best
        best[better] = per_work[better]
        best_view[better] = index
    return best, best_view


@dataclass(frozen=True)
class Verified:
    inliers: int
    modification: str | None


def _verify(query: Keypoints, work: Keypoints, work_size: tuple[int, int],
            query_size: tuple[int, int]) -> Verified | None:
    """A RANSAC homography from the work to the submission, or None when there is no sane one."""
    import cv2
    import numpy as np

    if len(query.descriptors) < 8 or len(work.descriptors) < 8:
        return None
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(work.descriptors, query.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < REVIEW_INLIERS:
        return None
    source = work.points[[m.queryIdx for m in good]].reshape(-1, 1, 2)
    target = query.points[[m.trainIdx for m in good]].reshape(-1, 1, 2)
    homography, mask = cv2.findHomography(source, target, cv2.RANSAC, 5.0, maxIters=2000,
                                          confidence=0.995)
    if homography is None or mask is None:
        return None
    inliers = int(mask.sum())
    if inliers < REVIEW_INLIERS or inliers < 0.2 * len(good):
        return None
    affine = homography[:2, :2] / homography[2, 2]
    determinant = float(np.linalg.det(affine))
    if determinant <= 0:  # a mirror is no camera view (mirrors are the hash stage's)
        return None
    singular = np.linalg.svd(affine, compute_uv=False)
    scale = float(np.sqrt(determinant))
    if not 0.1 <= scale <= 10 or singular[0] / singular[1] > 3:
        return None
    perspective = float(np.abs(homography[2, :2] / homography[2, 2]).max())
    if perspective * max(work_size) > 0.6:
        return None
    inlier_points = source.reshape(-1, 2)[mask.ravel().astype(bool)]
    spread = np.ptp(inlier_points, axis=0) / np.maximum(np.array(work_size, np.float32), 1)
    if spread.min() < 0.15:
        return None
    # what part of the work shows in the submission, and how large
    width, height = work_size
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]],
                       np.float32).reshape(-1, 1, 2)
    projected = cv2.perspectiveTransform(corners, homography).reshape(-1, 2)
    qw, qh = query_size
    inside = ((projected[:, 0] >= -0.05 * qw) & (projected[:, 0] <= 1.05 * qw)
              & (projected[:, 1] >= -0.05 * qh) & (projected[:, 1] <= 1.05 * qh))
    area = float(cv2.contourArea(projected.astype(np.float32)))
    modification = None
    if not inside.all():
        modification = "cropped"
    elif area < 0.6 * qw * qh:
        modification = "pasted into a larger picture"
    angle = float(np.degrees(np.arctan2(affine[1, 0], affine[0, 0])))
    if perspective * max(work_size) > 0.05:
        modification = ", ".join(filter(None, [modification, "seen in perspective"]))
    elif abs(angle) > 2:
        modification = ", ".join(filter(None, [modification, f"rotated {abs(angle):.0f}°"]))
    return Verified(inliers=inliers, modification=modification or None)


def _score(distance: int, inliers: int) -> float:
    """0-1: 1 - distance/128 for hashes (unrelated images sit near 128), inliers saturating."""
    hash_score = max(0.0, 1.0 - distance / 128)
    feature_score = min(1.0, inliers / (2 * COPY_INLIERS)) if inliers else 0.0
    return round(max(hash_score, feature_score), 3)


def screen_fingerprint(index: WorkIndex, query: QueryFingerprint, chroma: tuple[float, float],
                       query_size: tuple[int, int], *, top: int = 5) -> tuple[str, list[Match]]:
    """The verdict and the ranked matches of one fingerprinted submission."""
    import cv2
    import numpy as np

    if len(index) == 0:
        return CLEAR, []
    distances, views = hash_distances(index.hashes, query.hashes)
    order = np.argsort(distances, kind="stable")
    candidates: dict[int, None] = {}
    for position in order[:VERIFY_BY_HASH]:
        candidates[int(position)] = None
    if len(query.keypoints.descriptors) and len(index.descriptors):
        matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
        pairs = matcher.knnMatch(query.keypoints.descriptors, index.descriptors, k=2)
        owners = [int(index.descriptor_owner[p[0].trainIdx]) for p in pairs
                  if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
        if owners:
            votes = np.bincount(np.array(owners), minlength=len(index))
            for position in np.argsort(-votes, kind="stable")[:VERIFY_BY_VOTES]:
                if votes[position] >= 4:
                    candidates[int(position)] = None
    verified: dict[int, Verified] = {}
    for position in candidates:
        size = (int(index.sizes[position, 0]), int(index.sizes[position, 1]))
        result = _verify(query.keypoints, index.keypoints[position], size, query_size)
        if result is not None:
            verified[position] = result
    ranked = sorted(
        {int(p) for p in order[:top]} | set(verified),
        key=lambda p: -_score(int(distances[p]), verified[p].inliers if p in verified else 0))
    matches = []
    for position in ranked[:top]:
        distance = int(distances[position])
        check = verified.get(position)
        inliers = check.inliers if check else 0
        hash_hit = distance <= REVIEW_DISTANCE
        modification: str | None
        if hash_hit:
            view = query.views[int(views[position])]
            modification = view.modification
            if view.view == "trimmed" and check is not None and check.modification:
                modification = ", ".join(filter(None, [modification, check.modification]))
        else:
            modification = check.modification if check else None
        if hash_hit or inliers:
            shift = float(np.hypot(*(np.array(chroma) - index.chroma[position])))
            if shift > 12:
                modification = ", ".join(filter(None, [modification, "recoloured"]))
        evidence = "+".join(name for name, hit in (("hash", hash_hit), ("keypoints", inliers > 0))
                            if hit) or "none"
        matches.append(Match(work_id=int(index.ids[position]), reg_no=index.reg_nos[position],
                             title=index.titles[position], distance=distance,
                             score=_score(distance, inliers), inliers=inliers,
                             modification=modification, evidence=evidence))
    verdict = CLEAR
    for match in matches:
        if match.distance <= COPY_DISTANCE or match.inliers >= COPY_INLIERS:
            verdict = COPY
            break
        if match.distance <= REVIEW_DISTANCE or match.inliers >= REVIEW_INLIERS:
            verdict = REVIEW
    if verdict != CLEAR:
        flagged = [m for m in matches if m.distance <= REVIEW_DISTANCE or m.inliers]
        matches = flagged + [m for m in matches if m not in flagged]
    return verdict, matches


def screen_image(index: WorkIndex, path: Path, *, top: int = 5) -> Screening:
    """Screen one file; an unreadable file gives verdict ``error`` rather than raising."""
    from jdzhi.similarity.fingerprint import query_fingerprint
    from jdzhi.similarity.images import load_image

    try:
        image = load_image(path)
    except InvalidInput as error:
        return Screening(image=str(path), verdict=ERROR, error=error.message)
    query = query_fingerprint(image)
    size = (image.gray.shape[1], image.gray.shape[0])
    verdict, matches = screen_fingerprint(index, query, image.chroma, size, top=top)
    return Screening(image=str(path), verdict=verdict, matches=tuple(matches),
                     thumbnail=image.thumbnail)


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")


def expand_inputs(paths: Sequence[Path]) -> list[Path]:
    """Files as given, folders as their image files (sorted); a missing path is an error."""
    expanded: list[Path] = []
    for path in paths:
        if path.is_dir():
            expanded.extend(sorted(p for p in path.iterdir()
                                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.exists():
            expanded.append(path)
        else:
            raise InvalidInput(f"{path}: no such file or folder")
    if not expanded:
        raise InvalidInput("no images to screen (folders hold no .jpg/.png/... files)")
    return expanded


def screen_paths(db: sqlite_utils.Database, paths: Sequence[Path], *, top: int = 5,
                 progress: Callable[[int], None] | None = None) -> list[Screening]:
    """Screen files and folders against every registered work (``jdzhi works screen``)."""
    if not 1 <= top <= 100:
        raise InvalidInput(f"--top must be between 1 and 100 (got {top})")
    files = expand_inputs(paths)
    index = load_index(db)
    results = []
    for path in files:
        results.append(screen_image(index, path, top=top))
        if progress is not None:
            progress(1)
    return results
