"""Design-copy screening benchmark: accuracy per modification kind, and speed.

    .venv/bin/python -m benchmarks.screen_bench            # both splits, speed figures
    .venv/bin/python -m benchmarks.screen_bench --quick    # small splits, a smoke run

Real photos from ../shared/data/porcelain-dev (never copied into the repository). Each split
registers some photos as works and keeps other photos as unregistered pieces; every work and
every unregistered piece gets one modified copy per kind (benchmarks/screen_modifications.py).
Recall counts a copy found when it is flagged (copy or review) AND its work ranks first; an
innocent is a false flag when called copy or review. The thresholds (hash_stage, keypoint_stage)
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
    from jdzhi.similarity.work_index import load_index
    from jdzhi.similarity.works import make_request, prepare_all, register_prepared

    db = in_memory()
    requests = [make_request(path, _reg_no(i + 1), f"work {path.stem}", "benchmark", None)
                for i, path in enumerate(works)]
    started = time.perf_counter()
    prepared = prepare_all(requests)
    register_prepared(db, prepared)
    register_rate = len(works) / (time.perf_counter() - started)
    _INDEX = load_index(db, preload=True)
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


def _timed_cpu(action: Any, repeats: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per call of ``action``, CPU of every thread of this process."""
    action()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(repeats):
        action()
    return (1000 * (time.process_time() - cpu) / repeats,
            1000 * (time.perf_counter() - wall) / repeats)


def hash_stage_speed(works: int, threads: int | None = None) -> dict[str, float]:
    """The hash stage of one submission (its 20 query views) against ``works`` works.

    SYNTHETIC load: every work's two PDQ hashes are uniformly random 256-bit codes (the search is
    exhaustive, so its cost hardly depends on where the hashes lie; beyond 100,000 works it scans
    the first 128 bits of every hash, see jdzhi.similarity.work_index.NEAREST_HASH_WORKS). Returns
    CPU and wall milliseconds per submission (on ``threads`` threads, all cores when None)
    and the bytes of hash index per work."""
    import numpy as np

    from jdzhi.similarity.hash_stage import hash_distances
    from jdzhi.similarity.work_index import HashIndex, WorkIndex, flat_index

    rng = np.random.default_rng(7)
    hashes = rng.integers(0, 256, size=(works * 2, 32), dtype=np.uint8)
    index = WorkIndex(ids=np.arange(works, dtype=np.int64),
                      hash_index=HashIndex.of(hashes, threads=threads),
                      feature_index=flat_index(np.zeros((0, 32), np.uint8)),
                      details=lambda wanted: {})
    query = rng.integers(0, 256, size=(20, 32), dtype=np.uint8)
    cpu_ms, wall_ms = _timed_cpu(lambda: hash_distances(index, query), 10)
    in_memory = hashes.nbytes + (hashes.nbytes // 2 if index.hash_index.halves is not None else 0)
    return {"cpu_ms": cpu_ms, "wall_ms": wall_ms, "bytes_per_work": in_memory / works}


def _synthetic_keypoints(photos: list[Path], works: int, seed: int) -> Any:
    """SYNTHETIC keypoints for ``works`` works: each work's RETRIEVAL_KEYPOINTS descriptors are
    drawn at random from the real ORB descriptors of ``photos`` (none of them a benchmark work
    or innocent), each with 8 random bits flipped so that no two works share a descriptor; the
    keypoint positions are random. Returns (descriptors, points), work-major."""
    import numpy as np

    from jdzhi.similarity.fingerprint import orb_keypoints
    from jdzhi.similarity.images import load_image
    from jdzhi.similarity.index import RETRIEVAL_KEYPOINTS

    pool = np.concatenate([orb_keypoints(load_image(p).gray).descriptors for p in photos])
    rng = np.random.default_rng(seed)
    count = works * RETRIEVAL_KEYPOINTS
    codes = pool[rng.integers(0, len(pool), count)]
    for _ in range(8):
        bit = rng.integers(0, 256, count)
        codes[np.arange(count), bit // 8] ^= (1 << (bit % 8)).astype(np.uint8)
    points = rng.uniform(0, 512, size=(count, 2)).astype(np.float32)
    return codes, points


def full_screen_speed(works: list[Path], innocents: list[Path], pool_photos: list[Path],
                      total: int, folder: Path, seed: int = 3) -> dict[str, Any]:
    """Whole screens of real submissions (modified copies of ``works`` and modified
    ``innocents``, every kind of benchmarks/screen_modifications.py) against ``total`` works:
    ``works`` registered for real, the rest SYNTHETIC (random PDQ hashes; keypoints from
    :func:`_synthetic_keypoints`). Measures CPU and wall ms per submission on one thread, from
    the image file to the verdict, and the accuracy at that scale."""
    import faiss
    import numpy as np

    from jdzhi.similarity import index as retrieval
    from jdzhi.similarity.fingerprint import Keypoints
    from jdzhi.similarity.screen import screen_image
    from jdzhi.similarity.work_index import HashIndex, WorkDetails, WorkIndex
    from jdzhi.similarity.works import make_request, prepare_all

    faiss.omp_set_num_threads(1)
    prepared = prepare_all([make_request(path, _reg_no(i + 1), f"work {path.stem}", "benchmark",
                                         None) for i, path in enumerate(works)])
    synthetic = total - len(works)
    codes, points = _synthetic_keypoints(pool_photos, synthetic, seed)
    per_work = retrieval.RETRIEVAL_KEYPOINTS
    real_codes = [work.fingerprint.keypoints.descriptors[:per_work] for work in prepared]
    real_ids = np.arange(1, len(works) + 1, dtype=np.int64)
    synthetic_ids = np.arange(len(works) + 1, total + 1, dtype=np.int64)
    labels = np.concatenate(
        [retrieval.labels_of(int(w), len(c)) for w, c in zip(real_ids, real_codes, strict=True)]
        + [(synthetic_ids.repeat(per_work) << retrieval.KEYPOINT_BITS)
           + np.tile(np.arange(per_work, dtype=np.int64), synthetic)])
    started = time.process_time()
    feature_index = retrieval.build(np.concatenate([*real_codes, codes]), labels)
    build_cpu = time.process_time() - started
    rng = np.random.default_rng(seed)
    hashes = np.concatenate([np.frombuffer(b"".join(w.fingerprint.pdq for w in prepared),
                                           np.uint8).reshape(-1, 32),
                             rng.integers(0, 256, size=(2 * synthetic, 32), dtype=np.uint8)])
    real_details = {int(w): WorkDetails(
        reg_no=work.request.reg_no, title=work.request.title, chroma=work.chroma,
        size=_work_size(work.width, work.height), keypoints=work.fingerprint.keypoints)
        for w, work in zip(real_ids, prepared, strict=True)}

    def details(wanted: Any) -> dict[int, WorkDetails]:
        found = {}
        for work_id in wanted:
            if work_id in real_details:
                found[work_id] = real_details[work_id]
            else:
                rows = slice((work_id - len(works) - 1) * per_work,
                             (work_id - len(works)) * per_work)
                found[work_id] = WorkDetails(
                    reg_no=f"synthetic-{work_id}", title="synthetic", chroma=(0.0, 0.0),
                    size=(512, 512), keypoints=Keypoints(points[rows], codes[rows]))
        return found

    index = WorkIndex(ids=np.concatenate([real_ids, synthetic_ids]),
                      hash_index=HashIndex.of(hashes), feature_index=feature_index,
                      details=details)
    expected_of = {path: _reg_no(i + 1) for i, path in enumerate(works)}
    rng_images = random.Random(seed)
    cpu: list[float] = []
    wall: list[float] = []
    found = total_copies = flagged = total_innocents = 0
    for source in [*works, *innocents]:
        original = Image.open(source).convert("RGB")
        for kind, modify in MODIFICATIONS.items():
            out = folder / f"scale-{source.stem}-{kind.replace(' ', '_')}.jpg"
            modify(original, random.Random(rng_images.random())).save(out, quality=92)
            started_cpu, started_wall = time.process_time(), time.perf_counter()
            result = screen_image(index, out, top=3)
            cpu.append(1000 * (time.process_time() - started_cpu))
            wall.append(1000 * (time.perf_counter() - started_wall))
            flag = result.verdict in ("copy", "review")
            top = result.matches[0].reg_no if result.matches else None
            if source in expected_of:
                total_copies += 1
                found += flag and top == expected_of[source]
            else:
                total_innocents += 1
                flagged += flag
    return {"works": total, "synthetic": synthetic, "cpu_ms": float(np.median(cpu)),
            "cpu_p90_ms": float(np.percentile(cpu, 90)), "wall_ms": float(np.median(wall)),
            "recall": found / max(1, total_copies),
            "innocents_flagged": flagged / max(1, total_innocents),
            "submissions": len(cpu), "build_cpu_s": build_cpu,
            "index_bytes_per_work": (feature_index.ntotal * (32 + 8)) / total,
            "index": type(feature_index).__name__}


def _work_size(width: int, height: int) -> tuple[int, int]:
    from jdzhi.similarity.images import WORK_SIDE

    scale = min(1.0, WORK_SIDE / max(width, height))
    return round(width * scale), round(height * scale)


def split_photos(quick: bool) -> tuple[tuple[list[Path], list[Path]],
                                       tuple[list[Path], list[Path]]]:
    """The calibration and the report split: (works, innocents) each, disjoint."""
    photos = sorted(PHOTOS.glob("*.jpg"))
    random.Random(2026).shuffle(photos)
    size = 20 if quick else 60
    return ((photos[:size], photos[size:2 * size]),
            (photos[2 * size:3 * size], photos[3 * size:4 * size]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small splits")
    args = parser.parse_args()
    if not PHOTOS.is_dir():
        raise SystemExit(f"{PHOTOS} is absent: the benchmark needs the real photos")
    calibration, report = split_photos(args.quick)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        print_split("calibration", run_split("cal", *calibration, seed=1, folder=folder))
        print_split("report", run_split("rep", *report, seed=2, folder=folder))
    million = 100_000 if args.quick else 1_000_000
    one = hash_stage_speed(million, threads=1)
    every = hash_stage_speed(million)
    print(f"\nhash stage, {million:,} works (SYNTHETIC random PDQ hashes), 20 query views: "
          f"{one['cpu_ms']:.1f} ms CPU ({one['wall_ms']:.1f} ms wall) on one thread, "
          f"{every['wall_ms']:.1f} ms wall ({every['cpu_ms']:.1f} ms CPU) on {os.cpu_count()} "
          f"threads per submission; {one['bytes_per_work'] * 1e6 / 2**20:.0f} MB of hashes per "
          "million works")
    scale_works = 10_000 if args.quick else 100_000
    per_split = 6 if args.quick else 20
    with tempfile.TemporaryDirectory() as scratch:
        scale = full_screen_speed(report[0][:per_split], report[1][:per_split],
                                  [*calibration[0], *calibration[1]], scale_works, Path(scratch))
    print(f"full screen, {scale['works']:,} works ({len(report[0][:per_split])} real, "
          f"{scale['synthetic']:,} SYNTHETIC: random PDQ hashes, keypoints drawn from real "
          f"descriptors of other photos), {scale['submissions']} real modified submissions, "
          f"one thread: median {scale['cpu_ms']:.0f} ms CPU (p90 {scale['cpu_p90_ms']:.0f}), "
          f"{scale['wall_ms']:.0f} ms wall per submission; recall {scale['recall']:.3f}, "
          f"innocents flagged {scale['innocents_flagged']:.3f}; keypoint index "
          f"{scale['index']}, built in {scale['build_cpu_s']:.0f} s CPU, "
          f"{scale['index_bytes_per_work'] * 1e6 / 2**20:.0f} MB per million works")
    print(f"peak memory of this run: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
