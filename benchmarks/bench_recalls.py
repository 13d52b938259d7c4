"""Recalls in the trust bundle: bytes added by 100,000 recalled serials, and decoding time.

Three layouts of the same count: contiguous serials (a whole batch), serials scattered at random
among 10 million (cloned or stolen labels of one busy workshop), and scattered over the whole
12-digit serial space (the worst case). Bytes are the CBOR of the bundle's ``rcl`` array exactly
as ``jdzhi trust export`` writes it, raw and gzip-compressed (as a web server sends it).

Run: .venv/bin/python -m benchmarks.bench_recalls [COUNT]   (default 100,000)
"""

from __future__ import annotations

import gzip
import random
import sys
import time

from jdzhi.trace.formats.common import MAX_SERIAL
from jdzhi.trace.formats.cose import dumps, loads_canonical
from jdzhi.trace.recalls.compact import decode_recalls, encode_recalls
from jdzhi.trace.recalls.ranges import merge
from jdzhi.trace.trust.model import ItemRecall


def main(count: int) -> None:
    rng = random.Random(2026)
    layouts = {
        "contiguous": range(100_001, 100_001 + count),
        "random among 10 million": rng.sample(range(1, 10_000_001), count),
        "random among all 12-digit serials": rng.sample(range(1, MAX_SERIAL + 1), count),
    }
    print(f"{count:,} recalled serials     rcl bytes   gzip bytes   decode ms")
    for name, serials in layouts.items():
        recall = ItemRecall(1, 1, merge((serial, serial) for serial in serials),
                            "cloned serials found on market stalls", 1_773_000_000)
        data = dumps({"rcl": encode_recalls((recall,))})
        start = time.perf_counter()
        decoded = decode_recalls(loads_canonical(data, what="rcl")["rcl"])
        elapsed = (time.perf_counter() - start) * 1000
        assert decoded == (recall,)
        print(f"{name:<34} {len(data):>10,} {len(gzip.compress(data)):>12,} {elapsed:>11.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
