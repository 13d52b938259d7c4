"""Works registration and screening figures for ``benchmarks.run`` (``rows(quick)``).

    .venv/bin/python -m benchmarks.bench_similarity [--quick]

Command figures run ``jdzhi works import`` and ``jdzhi works screen`` as processes on real photos
from ../shared/data/porcelain-dev; library figures are the fingerprinting rate on all cores and
the hash stage of one submission against 1,000,000 works of random PDQ hashes (FAISS binary
index). Accuracy per modification kind is benchmarks/screen_bench.py.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.run import PASSPHRASE, REPO, Row, _environment, _jdzhi, timed

PORCELAIN = REPO.parent / "shared" / "data" / "porcelain-dev"


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
    from benchmarks.screen_bench import hash_stage_speed
    from jdzhi.home import Home
    from jdzhi.similarity.works import make_request, prepare_all
    from jdzhi.trace.keys import initialize_home

    if not PORCELAIN.is_dir():
        return [Row("register works/s", "not measured", "not measured",
                    "../shared/data/porcelain-dev is absent")]
    count = 40 if quick else 200
    photos = sorted(PORCELAIN.glob("*.jpg"))[:count]
    with tempfile.TemporaryDirectory(prefix="jdzhi-bench-") as folder:
        home = Home(Path(folder) / "home")
        initialize_home(home, PASSPHRASE.encode(), None)
        csv_file = Path(folder) / "works.csv"
        csv_file.write_text("image,reg_no,title,owner,creation_date\n" + "".join(
            f"{photo},国作登字-2024-F-{i + 1:08d},work {photo.stem},benchmark,\n"
            for i, photo in enumerate(photos)), encoding="utf-8")
        import_seconds = _jdzhi(home.path, "works", "import", str(csv_file))
        requests = [make_request(photo, f"国作登字-2024-F-{i + 1:08d}", "t", "o", None)
                    for i, photo in enumerate(photos)]
        _, prepare_seconds = timed(lambda: prepare_all(requests))
        probe = sorted(PORCELAIN.glob("*.jpg"))[count:count + 10]
        screen_seconds = _screen_seconds(home.path, probe)
    works = 100_000 if quick else 1_000_000
    hash_ms, bytes_per_work = hash_stage_speed(works)
    return [
        Row("register works/s",
            f"{count / import_seconds:,.0f}/s (`jdzhi works import`, {count} photos)",
            f"{count / prepare_seconds:,.0f}/s fingerprinting on all cores",
            "target >= 50/s on 2 cores"),
        Row("screen latency at 1 M works",
            f"{1000 * screen_seconds / len(probe):,.0f} ms per photo (`jdzhi works screen`, "
            f"{len(probe)} photos, {count} works, start-up included)",
            f"hash stage {hash_ms:.0f} ms at {works:,} works "
            f"({bytes_per_work:.0f} B of hashes per work)",
            "targets: hash stage <= 50 ms at 1 M; full screen <= 200 ms at 100k"),
    ]


if __name__ == "__main__":
    for row in rows("--quick" in sys.argv):
        print(f"{row.figure}: {row.command} | {row.library} | {row.note}")
