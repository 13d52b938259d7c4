"""Registry throughput: sample generation, all-or-nothing import (with its audit entries),
listing with statuses computed from the history, a full audit, and `is_valid_at` look-ups.

Run: .venv/bin/python -m benchmarks.bench_registry [COUNT]   (default 2000 enterprises)
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

from jdzhi.home import Home
from jdzhi.registry.db import initialize, open_registry
from jdzhi.registry.entries import audit_registry, list_entries
from jdzhi.registry.exchange import import_file
from jdzhi.registry.licenses import is_valid_at
from jdzhi.registry.sample import write_sample
from jdzhi.timeutil import utc_now

T = TypeVar("T")


def timed(label: str, action: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = action()
    print(f"{label:<38} {(time.perf_counter() - start) * 1000:9.1f} ms")
    return result


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        home = Home(Path(folder) / "home")
        initialize(home)
        path = Path(folder) / "sample.csv"
        timed(f"sample {count} rows", lambda: write_sample(
            path, count=count, seed=1, as_of=date(2026, 6, 1)))
        db = open_registry(home)
        timed(f"import {count} rows (one transaction)", lambda: import_file(db, path))
        entries = timed("list with statuses now", lambda: list_entries(db))
        report = timed(f"audit ({audit_registry(db).entries} entries)", lambda: audit_registry(db))
        assert report.ok
        now = utc_now()
        ids = [entry.license.id for entry in entries[:500]]
        timed("is_valid_at x 500", lambda: [is_valid_at(db, i, now) for i in ids])
        db.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
