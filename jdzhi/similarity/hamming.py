"""Every registered PDQ hash within a Hamming radius of a submission's views, for registries
too large for a nearest-neighbour search (:mod:`jdzhi.similarity.hash_stage`).

Exact: a hash within 40 of 256 bits is within 40 of its first 128, so those are compared with
every query view and only the rare rows within the radius are measured whole. The comparison
loop is compiled by numba (:mod:`jdzhi.similarity._hamming_kernel`): each chunk of rows is
compared with all the views while it sits in the L1 cache, and LLVM vectorises the popcounts
(nibble table lookups and byte sums, as the processor has no vector popcount): about 1.5
processor cycles per 128-bit comparison in 256-bit vectors, 1.1 in 512-bit ones, where FAISS's
range search (a scalar popcount per word) took 5. numba caches the compiled loop in jdzhi's
cache folder (``JDZHI_CACHE_DIR``): only the first search after an install compiles it (2 s);
later processes load it (about 1 s with numba's own start, once per process).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "FIRST_CAPACITY",
    "PIECE_ROWS",
    "HashHalves",
    "kernel",
    "near_hashes",
]

#: rows per piece of work handed to a thread: pieces, not halves, so that a thread whose core
#: is busy with something else holds up only its piece
PIECE_ROWS = 131_072
#: hits per piece the output arrays hold at first (a piece with more is searched again)
FIRST_CAPACITY = 1_024


@dataclass(frozen=True)
class HashHalves:
    """Registered hashes laid out for :func:`near_hashes`: the first and second 64-bit words of
    every hash each contiguous (16 bytes per hash), and the hashes' four words."""

    first: npt.NDArray[np.uint64]
    second: npt.NDArray[np.uint64]
    words: npt.NDArray[np.uint64]  # (hashes, 4): a view of the hashes themselves

    @staticmethod
    def of(hashes: npt.NDArray[np.uint8]) -> HashHalves:
        """``hashes``: (n, 32) packed 256-bit hashes."""
        import numpy as np

        words = np.ascontiguousarray(hashes, dtype=np.uint8).view(np.uint64)
        halves = HashHalves(first=np.ascontiguousarray(words[:, 0]),
                            second=np.ascontiguousarray(words[:, 1]), words=words)
        # read-only whether or not the hashes were: one compiled signature, not two
        for column in (halves.first, halves.second, halves.words):
            column.flags.writeable = False
        return halves

    def __len__(self) -> int:
        return len(self.first)


def kernel() -> ModuleType:
    """The compiled loop. Before numba is first imported: its machine code is cached under
    jdzhi's cache folder (numba's own default, beside the installed source, may be read-only),
    and LLVM may use 512-bit vectors (see :func:`_host_features_for_512_bit_vectors`);
    ``NUMBA_CACHE_DIR`` and ``NUMBA_CPU_FEATURES`` set by the user win."""
    import os
    import sys

    if "numba" not in sys.modules:
        from jdzhi.home import cache_dir

        os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir() / "numba"))
        features = _host_features_for_512_bit_vectors()
        if features is not None:
            os.environ.setdefault("NUMBA_CPU_FEATURES", features)
    from jdzhi.similarity import _hamming_kernel

    return _hamming_kernel


def _host_features_for_512_bit_vectors() -> str | None:
    """This processor's features for LLVM plus ``-prefer-256-bit`` where it has AVX-512BW
    (else None): LLVM's tuning for Skylake-SP and its successors keeps to 256-bit vectors, and
    the range search was 25-35 % faster with 512 (measured on a Xeon Skylake-SP, 1 M works)."""
    import llvmlite.binding as llvm  # type: ignore[import-untyped]

    try:
        features = llvm.get_host_cpu_features().flatten()
    except RuntimeError:  # LLVM cannot tell on this platform
        return None
    return f"{features},-prefer-256-bit" if "+avx512bw" in features.split(",") else None


def near_hashes(halves: HashHalves, query: npt.NDArray[np.uint8], radius: int,
                threads: int = 1) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64],
                                           npt.NDArray[np.int64]]:
    """(rows, query views, distances) of every registered hash within ``radius`` bits (of 256)
    of a query view, ordered by view, then row. ``query``: (views, 32) packed hashes;
    the rows are searched in pieces shared by ``threads`` threads."""
    import numpy as np

    loop: Any = kernel().near_rows
    words = np.ascontiguousarray(query, dtype=np.uint8).view(np.uint64)
    words.flags.writeable = False  # as HashHalves: one compiled signature
    bound = np.uint64(radius)

    def search(start: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64],
                                    npt.NDArray[np.int64]]:
        stop = start + PIECE_ROWS
        piece = (halves.first[start:stop], halves.second[start:stop], halves.words[start:stop])
        capacity = FIRST_CAPACITY
        while True:
            found = [np.empty(capacity, np.int64) for _ in range(3)]
            count = loop(*piece, words, bound, *found)
            if count <= capacity:
                rows, views, distances = (column[:count] for column in found)
                return rows + start, views, distances
            capacity = count

    starts = range(0, len(halves), PIECE_ROWS)
    if threads <= 1 or len(starts) <= 1:
        pieces = [search(start) for start in starts]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(threads, len(starts))) as pool:
            pieces = list(pool.map(search, starts))
    if not pieces:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    rows, views, distances = (np.concatenate(column) for column in zip(*pieces, strict=True))
    order = np.lexsort((rows, views))
    return rows[order], views[order], distances[order]
