"""Transparency-log tree speed: RFC 9162 roots and proofs over many leaves, one core.

    .venv/bin/python -m benchmarks.bench_tlog [--quick]

Figures (CPU-bound CPython, hashlib's SHA-256; leaf hashes generated here): :func:`root` over
1,000,000 leaf hashes (the goal: well under 2 s), building a :class:`MerkleTree` over them (every
complete subtree kept), then an inclusion and a consistency proof from that tree and their
verification. CPU time of this process, the best of 3 runs (wall time on a loaded host says
more about the neighbours than about the code).
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable
from typing import TypeVar

from benchmarks.run import Row
from jdzhi.trace.tlog.merkle import MerkleTree, root, verify_consistency, verify_inclusion

T = TypeVar("T")


def cpu_timed(action: Callable[[], T]) -> tuple[T, float]:
    """The result and the CPU seconds of this process: steady on a shared, loaded host."""
    start = time.process_time()
    result = action()
    return result, time.process_time() - start


def rows(quick: bool) -> list[Row]:
    count = 100_000 if quick else 1_000_000
    leaves = [hashlib.sha256(b"%d" % i).digest() for i in range(count)]
    root_seconds = min(cpu_timed(lambda: root(leaves))[1] for _ in range(3))
    tree, build_seconds = min((cpu_timed(lambda: MerkleTree(leaves)) for _ in range(3)),
                              key=lambda pair: pair[1])
    index, old_size = count * 2 // 3, count // 3 + 1
    inclusion, inclusion_seconds = cpu_timed(lambda: tree.inclusion_proof(index))
    consistency, consistency_seconds = cpu_timed(lambda: tree.consistency_proof(old_size))
    tree_root, old_root = tree.root(), tree.root(old_size)
    checked, verify_seconds = cpu_timed(lambda: (
        verify_inclusion(leaves[index], index, count, inclusion, tree_root).ok
        and verify_consistency(old_size, count, old_root, tree_root, consistency).ok))
    assert checked
    leaves_text = f"{count:,} leaves"
    return [
        Row(f"tlog root of {leaves_text}", "-", f"{root_seconds:.2f} s CPU", "merkle.root"),
        Row(f"tlog tree of {leaves_text}", "-", f"{build_seconds:.2f} s CPU", "MerkleTree(...)"),
        Row("tlog proofs from a built tree", "-",
            f"{(inclusion_seconds + consistency_seconds) * 1e3:.2f} ms",
            "one inclusion + one consistency proof"),
        Row("tlog proof verification", "-", f"{verify_seconds * 1e3:.2f} ms",
            "both proofs (RFC 9162 §2.1.3.2, §2.1.4.2)"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 leaves instead of 1 M")
    for row in rows(parser.parse_args().quick):
        print(f"{row.figure:40} {row.library:>10}  {row.note}")


if __name__ == "__main__":
    main()
