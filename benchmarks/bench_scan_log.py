"""The scan log built to grow: scan requests through a real `jdzhi server` with N scans in the
log (default 10,000,000) beside the same with an empty log, on PostgreSQL and on SQLite; and the
bytes a signed record takes.

    scripts/with-postgres .venv/bin/python -m benchmarks.bench_scan_log [--scans N]
        [--requests R] [--records M] [--backend sqlite|postgresql|both]

Run on demand (not by ``benchmarks.run``, not in CI). PostgreSQL is the database at
``JDZHI_TEST_DATABASE_URL`` (``scripts/with-postgres`` sets it; a database is made and dropped
for each run). For each backend: a home with one enterprise and 1,000 signed labels; R page
scans of those labels (each judged against the scan log: its count, first sighting and clone
flag, by the serial index; counted and stored) from 50 clients, on the empty log; then N
inspector scans bulk-loaded into ``scans`` (PostgreSQL: COPY into the month partitions;
SQLite: executemany in one transaction), spread over the 12 months before the clock and over
1,000,000 serials of the enterprise (so each benchmark serial has N / 1,000,000 sightings),
the tables analyzed, and the same R scans again; then M more records (default 100,000) signed
by `jdzhi sign` into the registry. Prints JSON: load time and rows/s, the bytes the log grew by a
scan (table and indexes), and per log size scans/s, p50 and p99 (ms) and the CPU seconds the
server, the database (PostgreSQL's processes: the postmaster, the backends it reaped and its
live ones) and the benchmark's clients used for the R scans, with scans per CPU second of server
and database (the clients share the machine's cores: wall-clock scans/s divided by the cores
would count their work as the server's); then the signing time and the bytes a signed record
takes (``signed_records`` and its indexes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.bench_server import drive, server_process
from benchmarks.run import (
    REPO,
    _environment,
    _records_csv,
    benchmark_clock,
    fresh_database,
    licensed_home_in,
)

LABELS = 1_000
SERIALS_IN_LOG = 1_000_000
COLUMNS = ("scanned_at", "inspector", "location", "latitude", "longitude", "image", "verdict",
           "serial", "enterprise", "enterprise_id", "label_text", "reasons")


def _home(folder: Path, database_url: str | None) -> tuple[Path, Path, list[str]]:
    """A home with one licensed enterprise and LABELS signed labels: the home, its signing key
    and the labels."""
    home, key = licensed_home_in(folder, database_url)
    signed = folder / "signed.jsonl"
    subprocess.run([sys.executable, "-m", "jdzhi", "--home", str(home), "sign",
                    str(_records_csv(folder / "records.csv", 1, LABELS)), "--key", str(key),
                    "--out", str(signed)], check=True, capture_output=True,
                   env=_environment(home, database_url), cwd=REPO)
    return home, key, [json.loads(line)["label"]
                            for line in signed.read_text(encoding="utf-8").splitlines()]


def _scan_rows(count: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    """``count`` logged inspector scans over the year before ``now`` and SERIALS_IN_LOG serials."""
    reasons = '["valid signature (bulk-loaded sample row)"]'
    step = timedelta(days=365) / max(count, 1)
    start = now - timedelta(days=365)
    for i in range(count):
        at = (start + step * i).strftime("%Y-%m-%dT%H:%M:%SZ")
        yield (at, "insp-bench", "Jingdezhen", 29.27, 117.18, "bulk.png", "genuine",
               str(i % SERIALS_IN_LOG + 1), "景德镇市样本陶瓷有限公司", 1, "", reasons)


def _load(home: Path, database_url: str | None, count: int) -> dict[str, float]:
    """Bulk-load ``count`` scans into the log; seconds and rows/s."""
    from jdzhi.home import Home
    from jdzhi.registry.db import open_registry, transaction
    from jdzhi.timeutil import stored_time
    from jdzhi.trace.scanning.months import ensure_months

    now = stored_time("2026-03-10T01:00:00Z")
    db = open_registry(Home(home, database_url))
    before = _size(db)
    start = time.perf_counter()
    try:
        if db.dialect == "postgresql":
            with transaction(db):
                for months_back in range(13):
                    ensure_months(db, now - timedelta(days=30.5 * months_back))
            driver = db.core.connection.driver_connection
            assert driver is not None
            with driver.cursor() as cursor, cursor.copy(
                    f"COPY scans ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in _scan_rows(count, now):
                    copy.write_row(row)
            db.execute("ANALYZE scans")
        else:
            with transaction(db):
                db.executemany(
                    f"INSERT INTO scans ({', '.join(COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(COLUMNS))})", _scan_rows(count, now))
            db.execute("ANALYZE")
        seconds = time.perf_counter() - start
        grown = _size(db) - before
    finally:
        db.close()
    return {"load_s": seconds, "load_rows_per_s": count / seconds,
            "bytes_per_logged_scan": grown / max(count, 1)}


def _size(db: Any) -> int:
    if db.dialect == "postgresql":
        return int(db.execute("SELECT pg_database_size(current_database())").fetchone()[0])
    return int(db.file.stat().st_size + sum(
        p.stat().st_size for p in db.file.parent.glob(db.file.name + "-wal")))


def _scans(home: Path, database_url: str | None, labels: list[str],
           requests: int) -> dict[str, float | dict[str, float]]:
    bodies: list[bytes | None] = [json.dumps(
        {"label": labels[i % len(labels)], "source": "page"}).encode() for i in range(requests)]
    json_type = {"content-type": "application/json"}
    with server_process(home, "--scan-rate-limit", "0", database_url=database_url) as server:
        drive(server.url, "POST", "/api/v1/scans", bodies[:500], json_type)
        before = (_process_cpu(server.pid), _database_cpu(database_url), time.process_time())
        driven = drive(server.url, "POST", "/api/v1/scans", bodies, json_type)
        after = (_process_cpu(server.pid), _database_cpu(database_url), time.process_time())
    assert set(driven.statuses) == {200}, set(driven.statuses)
    server_s, database_s, client_s = (end - start for start, end in zip(before, after,
                                                                        strict=True))
    return {"scans_per_s": round(driven.rate), "p50_ms": round(driven.percentile(0.5) * 1000, 1),
            "p99_ms": round(driven.percentile(0.99) * 1000, 1),
            "cpu_s": {"server": round(server_s, 1), "database": round(database_s, 1),
                      "clients": round(client_s, 1)},
            "scans_per_cpu_s": round(requests / (server_s + database_s))}


def _process_cpu(pid: int, *, reaped_children: bool = False) -> float:
    """CPU seconds (user and system) the process ``pid`` used so far, and with
    ``reaped_children`` those of the children it waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # after the name: state, ppid, ...; utime, stime, cutime, cstime are fields 14-17 of stat(5)
    return sum(int(ticks) for ticks in fields[11:15 if reaped_children else 13]) / \
        os.sysconf("SC_CLK_TCK")


def _database_cpu(database_url: str | None) -> float:
    """CPU seconds of the PostgreSQL cluster (on this machine) so far: its postmaster with the
    backends it reaped, and every live process of it; 0 for SQLite (inside the server)."""
    if database_url is None:
        return 0.0
    from jdzhi.registry.db import connect

    db = connect(database_url)
    try:
        (data,) = db.execute("SHOW data_directory").fetchone()
    finally:
        db.close()
    postmaster = int((Path(data) / "postmaster.pid").read_text().split()[0])
    total = _process_cpu(postmaster, reaped_children=True)
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                total += _process_cpu(int(entry.name))
        except (FileNotFoundError, ProcessLookupError):  # ended meanwhile: reaped, counted
            continue
    return total


def _record_bytes(home: Path, database_url: str | None, key: Path,
                  count: int) -> dict[str, float]:
    """Sign ``count`` more records with `jdzhi sign`; its seconds and the bytes ``signed_records``
    and its indexes grew by a record."""
    from jdzhi.home import Home
    from jdzhi.registry.db import open_registry

    registry = Home(home, database_url)
    before = _records_size(registry)
    csv = _records_csv(home.parent / "more-records.csv", LABELS + 1, count)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "jdzhi", "--home", str(home), "sign", str(csv),
                           "--key", str(key), "--out", str(home.parent / "more-signed.jsonl")],
                          capture_output=True, text=True, env=_environment(home, database_url),
                          cwd=REPO, check=False)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"jdzhi sign failed: {done.stderr.strip()}")
    db = open_registry(registry)
    try:
        (stored,) = db.execute("SELECT count(*) FROM signed_records").fetchone()
    finally:
        db.close()
    assert stored == LABELS + count, stored
    return {"records": count, "sign_s": round(seconds, 1),
            "bytes_per_signed_record": round((_records_size(registry) - before) / count)}


def _records_size(home: Any) -> int:
    """Bytes of ``signed_records`` and its indexes (PostgreSQL: and its TOAST table)."""
    from jdzhi.registry.db import open_registry

    db = open_registry(home)
    try:
        if db.dialect == "postgresql":
            query = "SELECT pg_total_relation_size('signed_records')"
        else:
            query = ("SELECT sum(pgsize) FROM dbstat WHERE name IN (SELECT name FROM "
                     "sqlite_master WHERE tbl_name = 'signed_records')")
        return int(db.execute(query).fetchone()[0])
    finally:
        db.close()


def measure(backend: str, scans: int, requests: int, records: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="jdzhi-bench-log-") as folder, \
            _database(backend) as database_url, benchmark_clock():
        home, key, labels = _home(Path(folder), database_url)
        empty = _scans(home, database_url, labels, requests)
        loaded = _load(home, database_url, scans)
        full = _scans(home, database_url, labels, requests)
        # last: the scan figures stay those of a registry of LABELS records, as before
        signed = _record_bytes(home, database_url, key, records) if records else None
    return {"backend": backend, "log_scans": scans, "requests": requests, "empty_log": empty,
            "load": {k: round(v, 1) for k, v in loaded.items()}, "full_log": full,
            "signed_records": signed}


@contextmanager
def _database(backend: str) -> Iterator[str | None]:
    if backend == "sqlite":
        yield None
        return
    server = os.environ.get("JDZHI_TEST_DATABASE_URL")
    if not server:
        raise SystemExit("PostgreSQL: run under scripts/with-postgres (JDZHI_TEST_DATABASE_URL)")
    with fresh_database(server, "jdzhi_bench") as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_scan_log",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", type=int, default=10_000_000, help="scans in the log")
    parser.add_argument("--requests", type=int, default=5_000, help="scan requests timed")
    parser.add_argument("--records", type=int, default=100_000,
                        help="records signed to measure their size (0: none)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    for backend in backends:
        print(json.dumps(measure(backend, args.scans, args.requests, args.records)),
              flush=True)


if __name__ == "__main__":
    main()
