"""Works registration and screening figures for ``benchmarks.run`` (``rows(quick)``).

    .venv/bin/python -m benchmarks.bench_similarity [--quick]

Real photos from ../shared/data/porcelain-dev: ``jdzhi works import`` and ``jdzhi works screen``
run as processes; the fingerprinting rate on all cores. SYNTHETIC load where no real data of that
size exists (benchmarks/screen_bench.py says exactly what): the hash stage against 1,000,000 works
of random PDQ hashes; the whole screen of real modified photos against 100,000 works, 20 of them
real and the rest with random hashes and keypoints drawn from real photos' descriptors. CPU time
is printed beside wall time: this machine is often shared. Accuracy per modification kind is
benchmarks/screen_bench.py.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.run import (
    PASSPHRASE,
    REPO,
    Row,
    _environment,
    _jdzhi,
    benchmark_clock,
    timed,
)

PORCELAIN = REPO.parent / "shared" / "data" / "porcelain-dev"


def _cpu_seconds() -> float:
    """CPU of this process and of every finished child (their workers included)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _registry_bytes(home: Any) -> int:
    """The registry database with its write-ahead log."""
    return sum(path.stat().st_size for path in home.path.glob("registry.db*")
               if not path.name.endswith(".faiss"))


def _screen_seconds(home: Path, photos: list[Path]) -> float:
    """Wall time of one `jdzhi works screen` process (exit 0 or 1: clear or flagged)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "jdzhi", "--home", str(home), "works", "screen",
                           *map(str, photos), "--json"], capture_output=True,
                          env=_environment(home), cwd=REPO, check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"jdzhi works screen failed: {done.stderr.decode()[-300:]}")
    return time.perf_counter() - start


def rows(quick: bool) -> list[Row]:
    from benchmarks.screen_bench import full_screen_speed, hash_stage_speed, split_photos
    from jdzhi.home import Home
    from jdzhi.registry.db import open_registry
    from jdzhi.similarity.works import make_request, prepare_all
    from jdzhi.trace.keys.home_setup import initialize_home

    if not PORCELAIN.is_dir():
        return [Row("register works/s", "not measured", "not measured",
                    "../shared/data/porcelain-dev is absent")]
    count = 40 if quick else 380  # of the 400 photos; the next 10 are screened
    photos = sorted(PORCELAIN.glob("*.jpg"))[:count]
    with benchmark_clock(), tempfile.TemporaryDirectory(prefix="jdzhi-bench-") as folder:
        home = Home(Path(folder) / "home")
        initialize_home(home, PASSPHRASE.encode(), None)
        csv_file = Path(folder) / "works.csv"
        csv_file.write_text("image,reg_no,title,owner,creation_date\n" + "".join(
            f"{photo},国作登字-2024-F-{i + 1:08d},work {photo.stem},benchmark,\n"
            for i, photo in enumerate(photos)), encoding="utf-8")
        open_registry(home).close()  # migrated: the size of an empty registry
        empty_bytes = _registry_bytes(home)
        cpu = _cpu_seconds()
        import_seconds = _jdzhi(home.path, "works", "import", str(csv_file))
        import_cpu = _cpu_seconds() - cpu
        db_bytes_per_work = (_registry_bytes(home) - empty_bytes) / count
        index_files = list(home.path.glob("registry.db.works-*.faiss"))
        requests = [make_request(photo, f"国作登字-2024-F-{i + 1:08d}", "t", "o", None)
                    for i, photo in enumerate(photos)]
        cpu = _cpu_seconds()
        _, prepare_seconds = timed(lambda: prepare_all(requests))
        prepare_cpu = _cpu_seconds() - cpu
        probe = sorted(PORCELAIN.glob("*.jpg"))[count:count + 10]
        screen_seconds = _screen_seconds(home.path, probe)
    works = 100_000 if quick else 1_000_000
    hash_one = hash_stage_speed(works, threads=1)
    hash_stage = hash_stage_speed(works)
    scale_works = 10_000 if quick else 100_000
    calibration, report = split_photos(quick)
    with tempfile.TemporaryDirectory(prefix="jdzhi-bench-") as folder:
        per_split = 6 if quick else 20
        scale = full_screen_speed(report[0][:per_split], report[1][:per_split],
                                  [*calibration[0], *calibration[1]], scale_works, Path(folder))
    hash_mb = hash_stage["bytes_per_work"] * 1e6 / 2**20
    index_mb = scale["index_bytes_per_work"] * 1e6 / 2**20
    cores = os.cpu_count() or 1
    return [
        Row("register works/s",
            f"{count / import_seconds:,.0f}/s (`jdzhi works import`, {count} photos, "
            f"{1000 * import_cpu / count:.0f} ms CPU per work, start-up included)",
            f"{count / prepare_seconds:,.0f}/s fingerprinting on {cores} cores "
            f"({1000 * prepare_cpu / count:.0f} ms CPU per work)",
            f"target >= 50/s on 2 cores; {cores} cores here"),
        Row("screen latency at 1 M works",
            f"{1000 * screen_seconds / len(probe):,.0f} ms per photo (`jdzhi works screen`, "
            f"{len(probe)} photos, {count} works, start-up included)",
            f"hash stage {hash_one['cpu_ms']:.0f} ms CPU on one thread, "
            f"{hash_stage['wall_ms']:.0f} ms wall on {cores} threads, at {works:,} works "
            "(SYNTHETIC random hashes)",
            "target: hash stage <= 50 ms at 1 M"),
        Row(f"full screen at {scale_works // 1000} k works",
            "not run as a command (a registry of that size is not built here)",
            f"median {scale['wall_ms']:.0f} ms wall, {scale['cpu_ms']:.0f} ms CPU (p90 "
            f"{scale['cpu_p90_ms']:.0f}) per real submission, one thread; recall "
            f"{scale['recall']:.3f}, innocents flagged {scale['innocents_flagged']:.3f} "
            f"({scale['synthetic']:,} works SYNTHETIC)",
            "target <= 200 ms at 100 k"),
        Row("memory per 1 M works",
            f"SQLite {db_bytes_per_work / 1024:.0f} KB per work on disk (thumbnail, hashes, "
            f"500 keypoints), {db_bytes_per_work * 1e6 / 2**30:.0f} GB per million works; "
            f"index file beside it: {'yes' if index_files else 'MISSING'}",
            f"hash index {hash_mb:.0f} MB, keypoint index {index_mb:,.0f} MB "
            f"({scale['index']}) per million works, in memory",
            "the keypoint index file beside registry.db is of that size"),
    ]


if __name__ == "__main__":
    for row in rows("--quick" in sys.argv):
        print(f"{row.figure}: {row.command} | {row.library} | {row.note}")
