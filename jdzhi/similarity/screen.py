"""Screening submissions against every registered work: hashes first, then keypoints.

Stage 1 (cheap, explainable): the submission's PDQ views (flips, quarter turns, trimmed
background, small rotations) against the two hashes of every work, in a FAISS binary index
(exhaustive Hamming search, SIMD popcount). Stage 2 (crops, perspective, pasting into another
picture): the submission's ORB keypoints against all registered keypoints (a FAISS binary index:
exact for small registries, inverted lists beyond :data:`EXACT_FEATURE_LIMIT` descriptors) retrieve
candidate works independently of the hash; the best few are verified by a RANSAC homography that
must be a plausible view of the work (orientation kept, bounded scale, skew and perspective,
enough inliers spread over the work).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
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
#: distinct RANSAC inliers of a sane geometry that make a copy / a review. Measured on real
#: photos: modified copies (crops, re-photographs, listings) mostly verify with 65-250, while
#: another photo of a twin piece painted to the same design reaches 20-70: a person decides.
COPY_INLIERS = 80
REVIEW_INLIERS = 20
#: registered works verified geometrically per submission (best keypoint votes, best hashes)
VERIFY_BY_VOTES = 4
VERIFY_BY_HASH = 2
#: how far (in work pixels at its far side) the homography may bend before the view is called
#: oblique ("seen in perspective")
PERSPECTIVE_NOTED = 0.15
#: keypoint evidence of an oblique view makes a copy only with this many inliers, else a review
OBLIQUE_COPY_INLIERS = 120
RATIO = 0.8
#: registered descriptors fetched per submission descriptor when retrieving candidates
RETRIEVAL_NEIGHBOURS = 4
#: ORB descriptors further apart than this (of 256 bits) are not the same corner
MAX_DESCRIPTOR_DISTANCE = 64


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
    oblique: bool = False  # the keypoints see the work at an angle

    @property
    def is_copy(self) -> bool:
        """Near-certain: a close hash, or many keypoints on a frontal view (an oblique one may
        be another photo of a like piece, so it needs more)."""
        needed = OBLIQUE_COPY_INLIERS if self.oblique else COPY_INLIERS
        return self.distance <= COPY_DISTANCE or self.inliers >= needed

    @property
    def is_close(self) -> bool:
        return self.distance <= REVIEW_DISTANCE or self.inliers >= REVIEW_INLIERS

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


#: above this many registered descriptors the keypoint index is approximate (inverted lists)
EXACT_FEATURE_LIMIT = 2_000_000
#: nearest registered hashes fetched per query view
HASH_NEIGHBOURS = 24


@dataclass(frozen=True)
class WorkIndex:
    """Every registered work's hashes and keypoints in memory, ready to screen against."""

    ids: npt.NDArray[np.int64]
    reg_nos: tuple[str, ...]
    titles: tuple[str, ...]
    chroma: npt.NDArray[np.float32]  # (n, 2)
    sizes: npt.NDArray[np.int32]  # (n, 2) width, height of the WORK_SIDE-reduced image
    hash_index: Any  # faiss.IndexBinaryFlat of the n * len(WORK_VIEWS) hashes, work-major
    keypoints: tuple[Keypoints, ...]
    feature_index: Any  # faiss binary index of every work's descriptors, in work order
    descriptor_owner: npt.NDArray[np.int32]  # (m,) position of each descriptor's work

    def __len__(self) -> int:
        return len(self.ids)


def binary_index(codes: npt.NDArray[np.uint8]) -> Any:
    """A FAISS binary index of ``codes`` ((m, bytes) rows): exact up to
    :data:`EXACT_FEATURE_LIMIT` rows, inverted lists (k-means cells) beyond."""
    import faiss
    import numpy as np

    bits = codes.shape[1] * 8
    if len(codes) <= EXACT_FEATURE_LIMIT:
        flat = faiss.IndexBinaryFlat(bits)
        if len(codes):
            flat.add(codes)
        return flat
    cells = int(4 * np.sqrt(len(codes)))
    cells_index = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(bits), bits, cells)
    sample = np.random.default_rng(0).choice(len(codes), size=min(len(codes), 64 * cells),
                                             replace=False)
    cells_index.train(codes[np.sort(sample)])
    cells_index.nprobe = 16
    cells_index.add(codes)
    return cells_index


def build_index(ids: Sequence[int], reg_nos: Sequence[str], titles: Sequence[str],
                chroma: npt.NDArray[np.float32], sizes: npt.NDArray[np.int32],
                hashes: npt.NDArray[np.uint8], keypoints: Sequence[Keypoints]) -> WorkIndex:
    import numpy as np

    owner = np.concatenate([np.full(len(k.descriptors), i, np.int32)
                            for i, k in enumerate(keypoints)] or [np.zeros(0, np.int32)])
    descriptors = (np.concatenate([k.descriptors for k in keypoints]) if keypoints
                   else np.zeros((0, 32), np.uint8))
    return WorkIndex(ids=np.asarray(ids, dtype=np.int64), reg_nos=tuple(reg_nos),
                     titles=tuple(titles), chroma=chroma, sizes=sizes,
                     hash_index=binary_index(np.ascontiguousarray(hashes)),
                     keypoints=tuple(keypoints),
                     feature_index=binary_index(np.ascontiguousarray(descriptors)),
                     descriptor_owner=owner)


def load_index(db: sqlite_utils.Database) -> WorkIndex:
    """Every registered work of ``db`` as a :class:`WorkIndex`."""
    import numpy as np

    from jdzhi.similarity.fingerprint import unpack_hashes
    from jdzhi.similarity.images import WORK_SIDE

    rows = db.execute(
        "SELECT w.id, w.reg_no, w.title, w.chroma_a, w.chroma_b, w.width, w.height, w.pdq, "
        "f.points, f.descriptors FROM works w JOIN work_features f ON f.work_id = w.id "
        "ORDER BY w.id").fetchall()
    sizes = []
    for row in rows:
        scale = min(1.0, WORK_SIDE / max(row[5], row[6]))
        sizes.append((round(row[5] * scale), round(row[6] * scale)))
    return build_index(
        ids=[row[0] for row in rows], reg_nos=[row[1] for row in rows],
        titles=[row[2] for row in rows],
        chroma=np.array([(row[3], row[4]) for row in rows], dtype=np.float32).reshape(-1, 2),
        sizes=np.array(sizes, dtype=np.int32).reshape(-1, 2),
        hashes=unpack_hashes(b"".join(row[7] for row in rows)),
        keypoints=[Keypoints.from_blobs(row[8], row[9]) for row in rows])


def hash_distances(index: WorkIndex, query: npt.NDArray[np.uint8]) -> dict[int, tuple[int, int]]:
    """The works among the nearest hashes of any query view: position of the work in the
    index -> (smallest Hamming distance between a query view and a work view, that query view).
    Every work within :data:`HASH_NEIGHBOURS` nearest hashes of some view is included."""
    views = len(WORK_VIEWS)
    total = index.hash_index.ntotal
    if total == 0:
        return {}
    distances, labels = index.hash_index.search(query, min(total, HASH_NEIGHBOURS))
    best: dict[int, tuple[int, int]] = {}
    for view, (row_distances, row_labels) in enumerate(zip(distances, labels, strict=True)):
        for distance, label in zip(row_distances.tolist(), row_labels.tolist(), strict=True):
            if label < 0:
                continue
            work = label // views
            if work not in best or distance < best[work][0]:
                best[work] = (int(distance), view)
    return best


@dataclass(frozen=True)
class Verified:
    inliers: int
    modification: str | None
    #: the view is oblique: a re-photograph, or another photo of the same design (a person
    #: should look; see :func:`screen_fingerprint`)
    perspective: bool
    #: the share of one-to-one descriptor matches that the geometry explains
    agreement: float


def _verify(query: Keypoints, query_index: Any, work: Keypoints, work_size: tuple[int, int],
            query_size: tuple[int, int]) -> Verified | None:
    """A RANSAC homography from the work to the submission, or None when there is no sane one."""
    import cv2
    import numpy as np

    if len(query.descriptors) < 8 or len(work.descriptors) < 8:
        return None
    distances, labels = query_index.search(work.descriptors, 2)
    passing = np.nonzero((distances[:, 0] < RATIO * distances[:, 1])
                         & (distances[:, 0] <= MAX_DESCRIPTOR_DISTANCE))[0]
    # one-to-one: a submission keypoint answers for one work keypoint only (ORB finds the same
    # corner at several pyramid levels; unchecked, one corner would count as many inliers)
    best_for_target: dict[int, int] = {}
    for work_point in passing.tolist():
        target_point = int(labels[work_point, 0])
        kept = best_for_target.get(target_point)
        if kept is None or distances[work_point, 0] < distances[kept, 0]:
            best_for_target[target_point] = work_point
    good = np.array(sorted(best_for_target.values()), dtype=np.int64)
    if len(good) < REVIEW_INLIERS:
        return None
    source = work.points[good].reshape(-1, 1, 2)
    target = query.points[labels[good, 0]].reshape(-1, 1, 2)
    homography, mask = cv2.findHomography(source, target, cv2.RANSAC, 5.0, maxIters=2000,
                                          confidence=0.995)
    if homography is None or mask is None:
        return None
    # a frontal view (crop, scale, rotation) is a similarity: prefer it when it explains nearly
    # as many matches, so that a flat band of keypoints does not invent a perspective
    similarity, similar = cv2.estimateAffinePartial2D(source, target, method=cv2.RANSAC,
                                                      ransacReprojThreshold=5.0)
    if similarity is not None and similar is not None and similar.sum() >= 0.85 * mask.sum():
        homography = np.vstack([similarity, [0.0, 0.0, 1.0]])
        mask = similar
    chosen = mask.ravel().astype(bool)
    # distinct places on both sides (2-pixel cells), not keypoints
    inliers = min(len(np.unique(np.round(source.reshape(-1, 2)[chosen] / 2), axis=0)),
                  len(np.unique(np.round(target.reshape(-1, 2)[chosen] / 2), axis=0)))
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
    inlier_points = source.reshape(-1, 2)[chosen]
    spread = np.ptp(inlier_points, axis=0) / np.maximum(np.array(work_size, np.float32), 1)
    if spread.min() < 0.05 or spread.max() < 0.2:
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
    if perspective * max(work_size) > PERSPECTIVE_NOTED:
        modification = ", ".join(filter(None, [modification, "seen in perspective"]))
    elif abs(angle) > 2:
        modification = ", ".join(filter(None, [modification, f"rotated {abs(angle):.0f}°"]))
    return Verified(inliers=inliers, modification=modification or None,
                    perspective=perspective * max(work_size) > PERSPECTIVE_NOTED,
                    agreement=inliers / len(good))


def _score(distance: int, inliers: int) -> float:
    """0-1: 1 - distance/128 for hashes (unrelated images sit near 128), inliers saturating."""
    hash_score = max(0.0, 1.0 - distance / 128)
    feature_score = min(1.0, inliers / (2 * COPY_INLIERS)) if inliers else 0.0
    return round(max(hash_score, feature_score), 3)


def _keypoint_evidence(index: WorkIndex, keypoints: Keypoints, hash_candidates: Sequence[int],
                       query_size: tuple[int, int]) -> dict[int, Verified]:
    """Works whose keypoints a sane geometry maps onto the submission's: the best hash
    candidates and the works most submission descriptors vote for, each verified by RANSAC."""
    import numpy as np

    candidates: dict[int, None] = dict.fromkeys(hash_candidates)
    query_index = binary_index(keypoints.descriptors)
    if len(keypoints.descriptors) >= 2 and index.feature_index.ntotal >= 2:
        # the ratio test compares the nearest descriptor with the nearest of ANOTHER work: one
        # work's own repeats (the same corner at several scales) must not cancel its match
        distances, labels = index.feature_index.search(
            keypoints.descriptors, min(RETRIEVAL_NEIGHBOURS, index.feature_index.ntotal))
        owners = np.where(labels >= 0, index.descriptor_owner[np.maximum(labels, 0)], -1)
        other = owners != owners[:, :1]
        has_other = other.any(axis=1)
        rival = np.where(has_other, distances[np.arange(len(distances)), other.argmax(axis=1)],
                         np.iinfo(np.int32).max)
        good = ((labels[:, 0] >= 0) & (distances[:, 0] <= MAX_DESCRIPTOR_DISTANCE)
                & (distances[:, 0] < RATIO * rival))
        if good.any():
            votes = np.bincount(owners[good, 0], minlength=len(index))
            for position in np.argsort(-votes, kind="stable")[:VERIFY_BY_VOTES]:
                if votes[position] >= 4:
                    candidates[int(position)] = None
    verified: dict[int, Verified] = {}
    for position in candidates:
        size = (int(index.sizes[position, 0]), int(index.sizes[position, 1]))
        result = _verify(keypoints, query_index, index.keypoints[position], size,
                         query_size)
        if result is not None:
            verified[position] = result
    return verified


def screen_fingerprint(index: WorkIndex, query: QueryFingerprint, chroma: tuple[float, float],
                       query_size: tuple[int, int], *, top: int = 5) -> tuple[str, list[Match]]:
    """The verdict and the ranked matches of one fingerprinted submission."""
    import numpy as np

    if len(index) == 0:
        return CLEAR, []
    by_hash = hash_distances(index, query.hashes)
    hash_order = sorted(by_hash, key=lambda p: by_hash[p][0])
    verified = _keypoint_evidence(index, query.keypoints, hash_order[:VERIFY_BY_HASH],
                                  query_size)
    mirrored = _keypoint_evidence(index, query.mirrored_keypoints, hash_order[:VERIFY_BY_HASH],
                                  query_size)
    for position, seen_mirrored in mirrored.items():
        if position not in verified or seen_mirrored.inliers > verified[position].inliers:
            verified[position] = replace(seen_mirrored, modification=", ".join(
                filter(None, ["mirrored", seen_mirrored.modification])))
    worst = 256

    def distance_of(position: int) -> int:
        return by_hash[position][0] if position in by_hash else worst

    ranked = sorted(
        set(hash_order[:top]) | set(verified),
        key=lambda p: (-_score(distance_of(p), verified[p].inliers if p in verified else 0),
                       distance_of(p)))
    matches = []
    for position in ranked[:top]:
        distance = distance_of(position)
        check = verified.get(position)
        inliers = check.inliers if check else 0
        hash_hit = distance <= REVIEW_DISTANCE
        modification: str | None
        if hash_hit:
            view = query.views[by_hash[position][1]]
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
                             modification=modification, evidence=evidence,
                             oblique=check is not None and check.perspective))
    verdict = CLEAR
    for match in matches:
        if match.is_copy:
            verdict = COPY
            break
        if match.is_close:
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
        # the result names the image already
        return Screening(image=str(path), verdict=ERROR,
                         error=error.message.removeprefix(f"{path}: "))
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
