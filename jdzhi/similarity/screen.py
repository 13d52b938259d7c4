"""Screening submissions against every registered work: hashes first, then keypoints.

Stage 1 (cheap, explainable): the submission's PDQ views (flips, quarter turns, trimmed
background, small rotations) against the two hashes of every work: each view's nearest hashes
from a FAISS binary index (exhaustive Hamming search, SIMD popcount), or beyond
:data:`NEAREST_HASH_WORKS` works every hash within review distance, from the compiled range
search of :mod:`jdzhi.similarity.hamming`. Stage 2 (crops, perspective, pasting into another
picture): the submission's strongest ORB keypoints against the registered works' strongest
(the retrieval index of :mod:`jdzhi.similarity.index`, kept in a file beside the registry)
retrieve candidate works independently of the hash; the best few are verified, with all their
keypoints read from the registry, by a RANSAC homography that must be a plausible view of the
work (orientation kept, bounded scale, skew and perspective, enough inliers spread over the work).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import InvalidInput
from jdzhi.similarity.fingerprint import WORK_VIEWS, Keypoints, QueryFingerprint

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import sqlite_utils

    from jdzhi.similarity.hamming import HashHalves

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
#: the submission's strongest keypoints that retrieve candidates (all verify)
QUERY_RETRIEVAL_KEYPOINTS = 250
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


#: nearest registered hashes fetched per query view
HASH_NEIGHBOURS = 24
#: beyond this many works the hash stage keeps only the hashes within REVIEW_DISTANCE, found by a
#: flat search on their first 128 bits (a hash within 40 of 256 bits is within 40 of those) and
#: then measured whole: half the cost of a nearest-neighbour search over all 256 bits, whose
#: nearest hashes beyond REVIEW_DISTANCE mean nothing among so many works
NEAREST_HASH_WORKS = 100_000


@dataclass(frozen=True)
class WorkDetails:
    """What the screening needs of a candidate work beyond its hashes."""

    reg_no: str
    title: str
    chroma: tuple[float, float]
    size: tuple[int, int]  # width, height of the WORK_SIDE-reduced image
    keypoints: Keypoints


@dataclass(frozen=True)
class HashIndex:
    """Every registered hash, work-major (len(WORK_VIEWS) rows per work), and what searches
    them: a FAISS index of the whole hashes, or beyond :data:`NEAREST_HASH_WORKS` works their
    halves laid out for the compiled range search of :mod:`jdzhi.similarity.hamming`."""

    hashes: npt.NDArray[np.uint8]  # (works * len(WORK_VIEWS), 32)
    flat: Any  # FAISS IndexBinaryFlat of the hashes, or None beyond NEAREST_HASH_WORKS works
    halves: HashHalves | None  # beyond NEAREST_HASH_WORKS works
    threads: int  # that share the range search

    @staticmethod
    def of(hashes: npt.NDArray[np.uint8], threads: int | None = None) -> HashIndex:
        """``threads``: one per core when None."""
        import os

        from jdzhi.similarity.hamming import HashHalves

        threads = threads or os.cpu_count() or 1
        if len(hashes) <= NEAREST_HASH_WORKS * len(WORK_VIEWS):
            return HashIndex(hashes=hashes, flat=flat_index(hashes), halves=None,
                             threads=threads)
        return HashIndex(hashes=hashes, flat=None, halves=HashHalves.of(hashes),
                         threads=threads)


@dataclass(frozen=True)
class WorkIndex:
    """The registered works ready to screen against: every hash in memory, the keypoint
    retrieval index (:mod:`jdzhi.similarity.index`), and the rest read per candidate."""

    ids: npt.NDArray[np.int64]  # work id of each pair of rows of the hash index
    hash_index: HashIndex
    feature_index: Any  # labels: work id << index.KEYPOINT_BITS | keypoint number
    details: Callable[[Sequence[int]], Mapping[int, WorkDetails]]  # by work id

    def __len__(self) -> int:
        return len(self.ids)


def flat_index(codes: npt.NDArray[np.uint8]) -> Any:
    """An exhaustive FAISS binary index of packed rows ((n, bytes) codes: PDQ hashes, ORB
    descriptors), searched by SIMD popcount."""
    import faiss
    import numpy as np

    flat = faiss.IndexBinaryFlat(codes.shape[1] * 8)
    if len(codes):
        flat.add(np.ascontiguousarray(codes))
    return flat


def build_index(ids: Sequence[int], reg_nos: Sequence[str], titles: Sequence[str],
                chroma: npt.NDArray[np.float32], sizes: npt.NDArray[np.int32],
                hashes: npt.NDArray[np.uint8], keypoints: Sequence[Keypoints]) -> WorkIndex:
    """An index of works held in memory (benchmarks, tests): ``hashes`` work-major."""
    import numpy as np

    from jdzhi.similarity import index as retrieval

    work_ids = np.asarray(ids, dtype=np.int64)
    kept = [k.descriptors[:retrieval.RETRIEVAL_KEYPOINTS] for k in keypoints]
    codes = np.concatenate(kept) if kept else np.zeros((0, 32), np.uint8)
    labels = (np.concatenate([retrieval.labels_of(int(w), len(k))
                              for w, k in zip(work_ids, kept, strict=True)])
              if kept else np.zeros(0, np.int64))
    table = {int(work_ids[i]): WorkDetails(
        reg_no=reg_nos[i], title=titles[i], chroma=(float(chroma[i, 0]), float(chroma[i, 1])),
        size=(int(sizes[i, 0]), int(sizes[i, 1])), keypoints=keypoints[i])
        for i in range(len(work_ids))}
    return WorkIndex(ids=work_ids, hash_index=HashIndex.of(hashes),
                     feature_index=retrieval.build(codes, labels),
                     details=lambda wanted: {w: table[w] for w in wanted if w in table})


_DETAIL_COLUMNS = ("SELECT w.id, w.reg_no, w.title, w.chroma_a, w.chroma_b, w.width, w.height, "
                   "f.points, f.descriptors FROM works w JOIN work_features f ON f.work_id = w.id")


def _details_of(rows: Sequence[Any]) -> dict[int, WorkDetails]:
    from jdzhi.similarity.images import WORK_SIDE

    found = {}
    for row in rows:
        scale = min(1.0, WORK_SIDE / max(row[5], row[6]))
        found[int(row[0])] = WorkDetails(
            reg_no=row[1], title=row[2], chroma=(float(row[3]), float(row[4])),
            size=(round(row[5] * scale), round(row[6] * scale)),
            keypoints=Keypoints.from_blobs(row[7], row[8]))
    return found


@contextmanager
def read_snapshot(db: sqlite_utils.Database) -> Iterator[None]:
    """One consistent view of the registry while screening (WAL readers block no writer)."""
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("COMMIT")


def load_index(db: sqlite_utils.Database, *, preload: bool = False) -> WorkIndex:
    """Every registered work of ``db`` as a :class:`WorkIndex`; call it inside
    :func:`read_snapshot` and screen in that same snapshot (candidates' details are read on
    demand), or with ``preload`` to read every work's details now."""
    import numpy as np

    from jdzhi.similarity import index as retrieval
    from jdzhi.similarity.fingerprint import unpack_hashes

    rows = db.execute("SELECT id, pdq FROM works ORDER BY id").fetchall()
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    hashes = unpack_hashes(b"".join(row[1] for row in rows))
    feature_index = retrieval.load(db, retrieval.stamp_of(db))

    def details(wanted: Sequence[int]) -> Mapping[int, WorkDetails]:
        if not wanted:
            return {}
        marks = ", ".join("?" * len(wanted))
        return _details_of(db.execute(f"{_DETAIL_COLUMNS} WHERE w.id IN ({marks})",
                                      [int(w) for w in wanted]).fetchall())

    if preload:
        table = _details_of(db.execute(_DETAIL_COLUMNS).fetchall())
        return WorkIndex(ids=ids, hash_index=HashIndex.of(hashes), feature_index=feature_index,
                         details=lambda wanted: {w: table[w] for w in wanted if w in table})
    return WorkIndex(ids=ids, hash_index=HashIndex.of(hashes), feature_index=feature_index,
                     details=details)


def hash_distances(index: WorkIndex, query: npt.NDArray[np.uint8]) -> dict[int, tuple[int, int]]:
    """The works among the nearest hashes of any query view: work id -> (smallest Hamming
    distance between a query view and a work view, that query view). Every work within
    :data:`HASH_NEIGHBOURS` nearest hashes of some view is included, or beyond
    :data:`NEAREST_HASH_WORKS` works every work within :data:`REVIEW_DISTANCE` of some view."""
    views = len(WORK_VIEWS)
    hashes = index.hash_index
    if len(hashes.hashes) == 0:
        return {}
    best: dict[int, tuple[int, int]] = {}
    for view, rows, distances in _near_hashes(hashes, query):
        for distance, row in zip(distances.tolist(), rows.tolist(), strict=True):
            work = int(index.ids[row // views])
            if work not in best or distance < best[work][0]:
                best[work] = (int(distance), view)
    return best


def _near_hashes(hashes: HashIndex, query: npt.NDArray[np.uint8]) -> Iterator[
        tuple[int, npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """(query view, rows of the hash index, their distances) for each view."""
    import numpy as np

    if hashes.halves is None:
        distances, labels = hashes.flat.search(query, min(hashes.flat.ntotal, HASH_NEIGHBOURS))
        for view in range(len(query)):
            found = labels[view] >= 0
            yield view, labels[view][found], distances[view][found].astype(np.int64)
        return
    from jdzhi.similarity.hamming import near_hashes

    rows, views, distances = near_hashes(hashes.halves, query, REVIEW_DISTANCE, hashes.threads)
    starts = np.searchsorted(views, np.arange(len(query) + 1))
    for view in range(len(query)):
        if starts[view + 1] > starts[view]:
            yield (view, rows[starts[view]:starts[view + 1]],
                   distances[starts[view]:starts[view + 1]])


@contextmanager
def single_threaded_faiss() -> Iterator[None]:
    """FAISS without its OpenMP team: one submission's searches are too short to share, and on
    a busy machine a team member that waits for a descheduled partner spins (measured: a
    screen 2.6 times slower under load, the hash stage 4 to 7 times)."""
    import faiss

    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


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
                       query_size: tuple[int, int],
                       details: dict[int, WorkDetails]) -> dict[int, Verified]:
    """Works whose keypoints a sane geometry maps onto the submission's: the best hash
    candidates and the works most submission descriptors vote for, each verified by RANSAC.
    ``details`` is filled with the details of every candidate (work id -> details)."""
    import numpy as np

    from jdzhi.similarity.index import work_of

    candidates: dict[int, None] = dict.fromkeys(hash_candidates)
    if len(keypoints.descriptors) >= 2 and index.feature_index.ntotal >= 2:
        # the ratio test compares the nearest descriptor with the nearest of ANOTHER work: one
        # work's own repeats (the same corner at several scales) must not cancel its match
        distances, labels = index.feature_index.search(
            keypoints.descriptors[:QUERY_RETRIEVAL_KEYPOINTS],
            min(RETRIEVAL_NEIGHBOURS, index.feature_index.ntotal))
        owners = work_of(labels)
        other = owners != owners[:, :1]
        has_other = other.any(axis=1)
        rival = np.where(has_other, distances[np.arange(len(distances)), other.argmax(axis=1)],
                         np.iinfo(np.int32).max)
        good = ((labels[:, 0] >= 0) & (distances[:, 0] <= MAX_DESCRIPTOR_DISTANCE)
                & (distances[:, 0] < RATIO * rival))
        if good.any():
            works, votes = np.unique(owners[good, 0], return_counts=True)
            for position in np.argsort(-votes, kind="stable")[:VERIFY_BY_VOTES]:
                if votes[position] >= 4:
                    candidates[int(works[position])] = None
    missing = [work for work in candidates if work not in details]
    if missing:
        details.update(index.details(missing))
    query_index = flat_index(keypoints.descriptors)
    verified: dict[int, Verified] = {}
    for work in candidates:
        if work not in details:
            continue
        found = details[work]
        result = _verify(keypoints, query_index, found.keypoints, found.size, query_size)
        if result is not None:
            verified[work] = result
    return verified


def screen_fingerprint(index: WorkIndex, query: QueryFingerprint, chroma: tuple[float, float],
                       query_size: tuple[int, int], *, top: int = 5) -> tuple[str, list[Match]]:
    """The verdict and the ranked matches of one fingerprinted submission."""
    import numpy as np

    if len(index) == 0:
        return CLEAR, []
    by_hash = hash_distances(index, query.hashes)
    hash_order = sorted(by_hash, key=lambda w: by_hash[w][0])
    details: dict[int, WorkDetails] = {}
    verified = _keypoint_evidence(index, query.keypoints, hash_order[:VERIFY_BY_HASH],
                                  query_size, details)
    mirrored = _keypoint_evidence(index, query.mirrored_keypoints, hash_order[:VERIFY_BY_HASH],
                                  query_size, details)
    for work, seen_mirrored in mirrored.items():
        if work not in verified or seen_mirrored.inliers > verified[work].inliers:
            verified[work] = replace(seen_mirrored, modification=", ".join(
                filter(None, ["mirrored", seen_mirrored.modification])))
    worst = 256

    def distance_of(work: int) -> int:
        return by_hash[work][0] if work in by_hash else worst

    ranked = sorted(
        set(hash_order[:top]) | set(verified),
        key=lambda w: (-_score(distance_of(w), verified[w].inliers if w in verified else 0),
                       distance_of(w), w))[:top]
    missing = [work for work in ranked if work not in details]
    if missing:
        details.update(index.details(missing))
    matches = []
    for work in ranked:
        if work not in details:  # removed since the hashes were read: not in this snapshot
            continue
        found = details[work]
        distance = distance_of(work)
        check = verified.get(work)
        inliers = check.inliers if check else 0
        hash_hit = distance <= REVIEW_DISTANCE
        modification: str | None
        if hash_hit:
            view = query.views[by_hash[work][1]]
            modification = view.modification
            if view.view == "trimmed" and check is not None and check.modification:
                modification = ", ".join(filter(None, [modification, check.modification]))
        else:
            modification = check.modification if check else None
        if hash_hit or inliers:
            shift = float(np.hypot(chroma[0] - found.chroma[0], chroma[1] - found.chroma[1]))
            if shift > 12:
                modification = ", ".join(filter(None, [modification, "recoloured"]))
        evidence = "+".join(name for name, hit in (("hash", hash_hit), ("keypoints", inliers > 0))
                            if hit) or "none"
        matches.append(Match(work_id=work, reg_no=found.reg_no, title=found.title,
                             distance=distance, score=_score(distance, inliers), inliers=inliers,
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
    results = []
    with read_snapshot(db), single_threaded_faiss():
        index = load_index(db)
        for path in files:
            results.append(screen_image(index, path, top=top))
            if progress is not None:
                progress(1)
    return results
