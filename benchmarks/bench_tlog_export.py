"""`jdzhi trust export` with the registry's transparency log, at many audit entries.

    .venv/bin/python -m benchmarks.bench_tlog_export [--entries N]

Fills a fresh registry with N audit entries (100,000 by default; an honest hash chain written
straight into ``audit_log``, as N registry changes would leave it), then times two exports: the
first signs the first checkpoint (and writes every leaf hash beside the authority key), the
second checks the log against it (reading those leaves back) before signing the next. Wall time
and CPU time of this process; the leaves file's size is reported too.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.run import Row
from jdzhi.home import Home
from jdzhi.registry import audit
from jdzhi.registry.db import open_registry, transaction
from jdzhi.trace.keys.home_setup import initialize_home
from jdzhi.trace.tlog.registry_log import checkpoints_dir
from jdzhi.trace.trust.bundle import export_bundle

PASSPHRASE = b"benchmark passphrase"


def _fill(home: Home, count: int) -> None:
    db = open_registry(home)
    try:
        with transaction(db):
            seq, prev = db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
                                   ).fetchone()
            rows = []
            for number in range(seq + 1, seq + 1 + count):
                fields = {"seq": number, "at": "2026-03-10T01:00:00Z", "actor": "bench",
                          "action": "enterprise.update", "entity": f"bench:{number}",
                          "before_digest": None, "after_digest": None, "details": "{}",
                          "prev_hash": prev}
                prev = hashlib.sha256(audit.leaf_data(fields)).hexdigest()
                rows.append((*fields.values(), prev))
            db.executemany(
                "INSERT INTO audit_log (seq, at, actor, action, entity, before_digest, "
                "after_digest, details, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    finally:
        db.close()


def _timed_export(home: Home, out: Path) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    export_bundle(home, out, PASSPHRASE, now=datetime.now(UTC))
    return time.perf_counter() - wall, time.process_time() - cpu


def rows(quick: bool) -> list[Row]:
    """The rows of `benchmarks.run`: 10,000 audit entries quick, 100,000 full."""
    return rows_at(10_000 if quick else 100_000)


def rows_at(entries: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as folder:
        home = Home(Path(folder) / "home")
        initialize_home(home, PASSPHRASE, None)
        _fill(home, entries)
        first = _timed_export(home, Path(folder) / "a.cbor")
        second = _timed_export(home, Path(folder) / "b.cbor")
        leaves = (checkpoints_dir(home) / "leaves").stat().st_size
    label = f"{entries:,} audit entries"
    return [
        Row(f"trust export, first checkpoint, {label}", "-",
            f"{first[0]:.2f} s wall, {first[1]:.2f} s CPU", "signs the first checkpoint"),
        Row(f"trust export, next checkpoint, {label}", "-",
            f"{second[0]:.2f} s wall, {second[1]:.2f} s CPU",
            "checks the log against the leaves kept, then signs"),
        Row(f"checkpoint leaves file, {label}", "-", f"{leaves / 1e6:.1f} MB", "32 B a leaf"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    for row in rows_at(parser.parse_args().entries):
        print(f"{row.figure:52} {row.library:>4}  {row.note}")


if __name__ == "__main__":
    main()
