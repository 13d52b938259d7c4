"""How fast `jdzhi db copy` moves a big scan log into PostgreSQL, and that its memory stays flat.

    scripts/with-postgres .venv/bin/python -m benchmarks.bench_db_copy [--scans N]

A copy of the fixture home made by jdzhi at 79e4c4d (tests/fixtures/home-79e4c4d) gets N inspector
scans (SAMPLE rows, as `jdzhi scan` logs them) and is copied into a new database of the cluster
that ``scripts/with-postgres`` runs (``JDZHI_TEST_DATABASE_URL``). Prints the seconds, rows per
second and the process's peak memory before and after the copy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "home-79e4c4d"


def _fill_scans(path: Path, count: int) -> None:
    rows = ((f"2026-03-{1 + i % 28:02d}T0{i % 10}:00:00Z", f"insp-{i % 50:02d}",
             "29.26890,117.17840", 29.2689, 117.1784, f"photo-{i}.jpg", "genuine",
             str(100000 + i % 500000), "景德镇市青云陶瓷有限公司", f"JDZ1:SAMPLE:{i}", "[]", 1)
            for i in range(count))
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO scans (scanned_at, inspector, location, latitude, longitude, image, "
            "verdict, serial, enterprise, label_text, reasons, enterprise_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def main() -> None:
    import psycopg
    import sqlalchemy

    from jdzhi.home import Home
    from jdzhi.registry.db import open_registry
    from jdzhi.registry.db_copy import copy_registry

    parser = argparse.ArgumentParser()
    parser.add_argument("--scans", type=int, default=1_000_000)
    args = parser.parse_args()
    server = os.environ["JDZHI_TEST_DATABASE_URL"]
    name = f"jdzhi_bench_{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory() as folder, \
            psycopg.connect(server, autocommit=True) as admin:
        home = Home(Path(folder) / "home")
        shutil.copytree(FIXTURE, home.path)
        open_registry(home).close()
        _fill_scans(home.db_path, args.scans)
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = sqlalchemy.make_url(server).set(database=name).render_as_string(
                hide_password=False)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            start = time.perf_counter()
            result = copy_registry(home, url)
            seconds = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps({"scans": args.scans, "rows": result.rows, "seconds": round(seconds, 1),
                      "rows_per_second": round(result.rows / seconds),
                      "peak_rss_mb_before": round(before / 1024),
                      "peak_rss_mb_after": round(after / 1024)}))


if __name__ == "__main__":
    main()
