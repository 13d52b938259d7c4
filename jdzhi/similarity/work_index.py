"""The registered works as the screening searches them: every hash in memory, the keypoint
retrieval index (:mod:`jdzhi.similarity.index`), and the rest of a work read when it becomes a
candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jdzhi.similarity.fingerprint import WORK_VIEWS, Keypoints

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from jdzhi.registry.db import Database
    from jdzhi.similarity.hamming import HashHalves

__all__ = [
    "NEAREST_HASH_WORKS",
    "HashIndex",
    "WorkDetails",
    "WorkIndex",
    "build_index",
    "flat_index",
    "load_index",
    "read_snapshot",
    "single_threaded_faiss",
]

#: beyond this many works the hash stage keeps only the hashes within review distance
#: (:data:`jdzhi.similarity.hash_stage.REVIEW_DISTANCE`), found by a flat search on their first
#: 128 bits (a hash within 40 of 256 bits is within 40 of those) and then measured whole: half
#: the cost of a nearest-neighbour search over all 256 bits, whose nearest hashes beyond review
#: distance mean nothing among so many works
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
def read_snapshot(db: Database) -> Iterator[None]:
    """One consistent view of the registry while screening (WAL readers block no writer)."""
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("COMMIT")


def load_index(db: Database, *, preload: bool = False) -> WorkIndex:
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
