"""Stage 1 of the screening, cheap and explainable: the submission's PDQ views (flips, quarter
turns, trimmed background, small rotations) against the two hashes of every work: each view's
nearest hashes from a FAISS binary index (exhaustive Hamming search, SIMD popcount), or beyond
:data:`~jdzhi.similarity.work_index.NEAREST_HASH_WORKS` works every hash within review distance,
from the compiled range search of :mod:`jdzhi.similarity.hamming`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from jdzhi.similarity.fingerprint import WORK_VIEWS
from jdzhi.similarity.work_index import HashIndex, WorkIndex

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["COPY_DISTANCE", "HASH_NEIGHBOURS", "REVIEW_DISTANCE", "hash_distances"]

#: PDQ distance (of 256 bits) at or below which a hash match is a copy; PDQ's own
#: recommended match threshold. Unrelated look-alike porcelain photos measured >= 52 here.
COPY_DISTANCE = 31
#: PDQ distance at or below which a human should look
REVIEW_DISTANCE = 40
#: nearest registered hashes fetched per query view
HASH_NEIGHBOURS = 24


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
