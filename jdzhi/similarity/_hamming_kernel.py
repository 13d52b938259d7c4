"""The compiled loop of :mod:`jdzhi.similarity.hamming` (numba; import it through
:func:`jdzhi.similarity.hamming.kernel`, which points numba's cache at jdzhi's cache folder)."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

#: rows compared with every query view while they are in the processor's L1 cache (8 KB of
#: hash halves; measured: 256-1,024 equally fast, 2,048 slower)
CHUNK_ROWS = 512


def _ctpop(typingctx: Any, value: Any) -> Any:
    """LLVM's ctpop of a 64-bit word: vectorised in a loop (nibble table lookups and byte sums
    where the processor has no vector popcount)."""
    if value not in (types.int64, types.uint64):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.ctpop(args[0])

    return types.uint64(value), codegen


_popcount: Any = intrinsic(_ctpop)


@numba.njit(nogil=True, cache=True)
def near_rows(first: Any, second: Any, words: Any, query: Any, radius: Any, rows: Any,
              views: Any, distances: Any) -> int:
    """Every (row, query view) whose whole hashes are within ``radius`` bits, found by their
    first 128 bits (``first``, ``second``: the first two 64-bit words of every row, each
    contiguous; ``words``: the rows' four words; ``query``: (views, 4) words; ``radius``:
    uint64). Written to ``rows``, ``views``, ``distances`` in chunk order, then view, then row,
    as far as they hold; returns how many there are."""
    found = 0
    near = np.empty(CHUNK_ROWS, np.uint64)
    for start in range(0, len(first), CHUNK_ROWS):
        # slices indexed from 0: numba then drops its negative-index checks and LLVM
        # vectorises the loops below (with them it gathered each word)
        chunk_first = first[start:start + CHUNK_ROWS]
        chunk_second = second[start:start + CHUNK_ROWS]
        for view in range(len(query)):
            head, tail = query[view, 0], query[view, 1]
            least = np.uint64(128)
            for i in range(len(chunk_first)):
                least = min(least, _popcount(chunk_first[i] ^ head)
                            + _popcount(chunk_second[i] ^ tail))
            if least > radius:  # nearly always: the chunk holds nothing near this view
                continue
            for i in range(len(chunk_first)):
                near[i] = _popcount(chunk_first[i] ^ head) + _popcount(chunk_second[i] ^ tail)
            for i in range(len(chunk_first)):
                if near[i] <= radius:
                    row = start + i
                    distance = (near[i] + _popcount(words[row, 2] ^ query[view, 2])
                                + _popcount(words[row, 3] ^ query[view, 3]))
                    if distance <= radius:
                        # the output arrays are never replaced here: reassigning an array
                        # in this loop made numba count references on every row (4x slower)
                        if found < len(rows):
                            rows[found] = row
                            views[found] = view
                            distances[found] = distance
                        found += 1
    return found
