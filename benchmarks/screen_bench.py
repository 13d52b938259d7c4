"""Design-copy screening benchmark: accuracy per modification kind, and speed.

    .venv/bin/python -m benchmarks.screen_bench            # both splits, speed figures
    .venv/bin/python -m benchmarks.screen_bench --quick    # small splits, a smoke run

Real photos from ../shared/data/porcelain-dev (never copied into the repository). Each split
registers some photos as works and keeps other photos as unregistered pieces; every work and
every unregistered piece gets one modified copy per kind (benchmarks/screen_modifications.py).
Recall counts a copy found when it is flagged (copy or review) AND its work ranks first; an
innocent is a false flag when called copy or review. The thresholds in jdzhi.similarity.screen
were set on the calibration split; the report split uses other works, other innocents and
other random seeds.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image

from benchmarks.screen_modifications import MODIFICATIONS

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "porcelain-dev"

_INDEX: Any = None


def _reg_no(number: int) -> str:
    return f"国作登字-2024-F-{number:08d}"


def _single_threaded() -> None:
    import faiss

    faiss.omp_set_num_threads(1)  # one screening per core: no OpenMP oversubscription


def _screen_one(task: tuple[str, str, str | None]) -> tuple[str, str, str | None, str,
                                                               str | None, float]:
    from jdzhi.similarity.screen import screen_image

    path, kind, expected = task
    started = time.perf_counter()
    result = screen_image(_INDEX, Path(path), top=3)
    elapsed = time.perf_counter() - started
    top = result.matches[0].reg_no if result.matches else None
    return kind, path, expected, result.verdict, top, elapsed


def run_split(name: str, works: list[Path], innocents: list[Path], seed: int,
              folder: Path) -> dict[str, Any]:
    global _INDEX
    from jdzhi.registry.db import in_memory
    from jdzhi.similarity.screen import load_index
    from jdzhi.similarity.works import make_request, prepare_all, register_prepared

    db = in_memory()
    requests = [make_request(path, _reg_no(i + 1), f"work {path.stem}", "benchmark", None)
                for i, path in enumerate(works)]
    started = time.perf_counter()
    prepared = prepare_all(requests)
    register_prepared(db, prepared)
    register_rate = len(works) / (time.perf_counter() - started)
    _INDEX = load_index(db)
    reg_of = {path: _reg_no(i + 1) for i, path in enumerate(works)}
    tasks: list[tuple[str, str, str | None]] = []
    rng = random.Random(seed)
    for source, expected in [(p, reg_of[p]) for p in works] + [(p, None) for p in innocents]:
        original = Image.open(source).convert("RGB")
        for kind, modify in MODIFICATIONS.items():
            out = folder / f"{name}-{source.stem}-{len(tasks)}.jpg"
            modify(original, random.Random(rng.random())).save(out, quality=92)
            tasks.append((str(out), kind, expected))
        tasks.append((str(source), "unmodified", expected))
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1,
                             initializer=_single_threaded) as pool:
        outcomes = list(pool.map(_screen_one, tasks, chunksize=8))
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    flagged: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    times = []
    for kind, _path, expected, verdict, top, elapsed in outcomes:
        times.append(elapsed)
        if expected is not None:
            found[kind][0] += verdict in ("copy", "review") and top == expected
            found[kind][1] += 1
        else:
            flagged[kind][0] += verdict == "copy"
            flagged[kind][1] += verdict == "review"
            flagged[kind][2] += 1
    return {"register_rate": register_rate, "found": dict(found), "flagged": dict(flagged),
            "median_ms": 1000 * sorted(times)[len(times) // 2], "works": len(works)}


def print_split(name: str, result: dict[str, Any]) -> None:
    found, flagged = result["found"], result["flagged"]
    print(f"\n## {name} split: {result['works']} registered works, "
          f"{next(iter(flagged.values()))[2]} unregistered pieces per kind")
    print(f"{'modification':<18}{'recall':>8}{'innocent copy':>15}{'innocent review':>17}")
    total_found = total = copies = reviews = innocents = 0
    for kind in found:
        hit, count = found[kind]
        copy, review, many = flagged[kind]
        total_found, total = total_found + hit, total + count
        copies, reviews, innocents = copies + copy, reviews + review, innocents + many
        print(f"{kind:<18}{hit / count:>8.3f}{copy / many:>15.3f}{review / many:>17.3f}")
    print(f"{'all':<18}{total_found / total:>8.3f}{copies / innocents:>15.3f}"
          f"{reviews / innocents:>17.3f}")
    print(f"median screen time per submission ({result['works']} works): "
          f"{result['median_ms']:.0f} ms; registration {result['register_rate']:.0f} works/s")


def hash_stage_speed(works: int) -> tuple[float, float]:
    """Milliseconds for the hash stage of one submission (all its query views) against
    ``works`` works of random hashes, and bytes of hash index per work."""
    import numpy as np

    from jdzhi.similarity.fingerprint import Keypoints
    from jdzhi.similarity.screen import build_index, hash_distances

    rng = np.random.default_rng(7)
    hashes = rng.integers(0, 256, size=(works * 2, 32), dtype=np.uint8)
    empty = Keypoints(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8))
    index = build_index(range(works), ["x"] * works, ["x"] * works,
                        np.zeros((works, 2), np.float32), np.ones((works, 2), np.int32),
                        hashes, [empty] * works)
    query = rng.integers(0, 256, size=(20, 32), dtype=np.uint8)
    hash_distances(index, query)
    repeats = 10
    started = time.perf_counter()
    for _ in range(repeats):
        hash_distances(index, query)
    return 1000 * (time.perf_counter() - started) / repeats, hashes.nbytes / works


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small splits")
    args = parser.parse_args()
    if not PHOTOS.is_dir():
        raise SystemExit(f"{PHOTOS} is absent: the benchmark needs the real photos")
    photos = sorted(PHOTOS.glob("*.jpg"))
    random.Random(2026).shuffle(photos)
    size = 20 if args.quick else 60
    calibration = photos[:size], photos[size:2 * size]
    report = photos[2 * size:3 * size], photos[3 * size:4 * size]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        print_split("calibration", run_split("cal", *calibration, seed=1, folder=folder))
        print_split("report", run_split("rep", *report, seed=2, folder=folder))
    million = 100_000 if args.quick else 1_000_000
    ms, per_work = hash_stage_speed(million)
    print(f"\nhash stage, {million:,} works, 20 query views: {ms:.1f} ms per submission; "
          f"{per_work * 1e6 / 2**20:.0f} MB of hashes per million works")
    print(f"peak memory of this run: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
