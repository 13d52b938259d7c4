"""What SQLAlchemy Core costs per statement beside sqlite3, on the registry's hot paths.

    .venv/bin/python -m benchmarks.db_overhead [--rounds N]

Four ways to send the same SQL to the same SQLite file (WAL, synchronous=FULL, as the registry
opens it): ``sqlite3`` itself, jdzhi's :class:`~jdzhi.registry.db.Database` (a SQLAlchemy Core
connection whose statements go to the driver's connection under it), SQLAlchemy's
``Connection.exec_driver_sql`` (the statement and its ``?`` parameters handed to the driver as they
are) and SQLAlchemy ``text()`` with named binds.
Each times three paths, statements in one transaction per batch as the code runs them:

- ``page scan``: the server's five statements for one phone scan (count and clone flag of the
  serial in the scan log, the client's place of the day, the scan stored, the check counted);
- ``staging``: signing's ``executemany`` of 9-column rows into a temporary table, per row;
- ``audit``: ``audit.append``'s two statements (the chain's head read, the entry inserted).

Microseconds per scan / row / entry, best of the rounds (CPU-bound: the commits are few).
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy

SCHEMA = (
    "CREATE TABLE scans (id INTEGER PRIMARY KEY, enterprise_id INTEGER, serial TEXT, "
    "scanned_at TEXT, verdict TEXT)",
    "CREATE INDEX scans_serial ON scans (enterprise_id, serial, scanned_at)",
    "CREATE TABLE page_scans (id INTEGER PRIMARY KEY, scanned_at TEXT, location TEXT, "
    "latitude REAL, longitude REAL, verdict TEXT, enterprise_id INTEGER, serial TEXT, "
    "label_text TEXT, reasons TEXT)",
    "CREATE TABLE page_checks (enterprise_id INTEGER, serial TEXT, checks INTEGER, "
    "first_checked_at TEXT, PRIMARY KEY (enterprise_id, serial)) WITHOUT ROWID",
    "CREATE TABLE page_scan_clients (enterprise_id INTEGER, serial TEXT, day TEXT, client BLOB, "
    "scanned_at TEXT, location TEXT, PRIMARY KEY (enterprise_id, serial, day, client))",
    "CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, at TEXT, entity TEXT, details TEXT, "
    "prev_hash TEXT, hash TEXT UNIQUE)",
)

PAGE_SCAN = (
    ("SELECT count(*), min(scanned_at), max(CASE WHEN verdict = 'suspected-clone' "
     "THEN scanned_at END) FROM scans WHERE enterprise_id = ? AND serial = ?", ("e", "s")),
    ("INSERT INTO page_scan_clients (enterprise_id, serial, day, client, scanned_at, location) "
     "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", ("e", "s", "d", "c", "t", "l")),
    ("SELECT day, client, scanned_at, location FROM page_scan_clients "
     "WHERE enterprise_id = ? AND serial = ? AND scanned_at >= ? ORDER BY scanned_at",
     ("e", "s", "w")),
    ("INSERT INTO page_scans (scanned_at, location, latitude, longitude, verdict, "
     "enterprise_id, serial, label_text, reasons) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
     ("t", "l", "la", "lo", "v", "e", "s", "x", "r")),
    ("INSERT INTO page_checks (enterprise_id, serial, checks, first_checked_at) "
     "VALUES (?, ?, 1, ?) ON CONFLICT (enterprise_id, serial) "
     "DO UPDATE SET checks = checks + 1 RETURNING checks, first_checked_at", ("e", "s", "t")),
)
STAGE = "INSERT INTO temp.stage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
HEAD = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
APPEND = ("INSERT INTO audit_log (seq, at, entity, details, prev_hash, hash) "
          "VALUES (?, ?, ?, ?, ?, ?)")


def _named(sql: str, names: tuple[str, ...]) -> str:
    for name in names:
        sql = sql.replace("?", f":{name}", 1)
    return sql


def _scan_values(number: int) -> dict[str, Any]:
    return {"e": number % 50, "s": f"S{number % 5000:06d}", "d": "2026-03-10",
            "c": number.to_bytes(8, "big"), "t": "2026-03-10T01:00:00Z", "l": "29.30,117.20",
            "w": "2026-02-10T01:00:00Z", "la": 29.3, "lo": 117.2, "v": "genuine",
            "x": "HTTPS://X/V/ABC", "r": "[]"}


class _Raw:
    """sqlite3 as the registry uses it today."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")

    def run(self, sql: str, names: tuple[str, ...], values: dict[str, Any]) -> list[Any]:
        return self.conn.execute(sql, [values[n] for n in names]).fetchall()

    def many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self.conn.executemany(sql, rows)

    def plain(self, sql: str) -> None:
        self.conn.execute(sql)

    def close(self) -> None:
        self.conn.close()


class _Core:
    """SQLAlchemy Core over the same driver: the statement as written, or as ``text()``."""

    def __init__(self, path: Path, *, named: bool) -> None:
        self.engine = sqlalchemy.create_engine(f"sqlite:///{path}", isolation_level="AUTOCOMMIT",
                                               poolclass=sqlalchemy.NullPool)
        self.conn = self.engine.connect()
        self.named = named
        self.plain("PRAGMA journal_mode = WAL")
        self.plain("PRAGMA synchronous = FULL")

    def run(self, sql: str, names: tuple[str, ...], values: dict[str, Any]) -> list[Any]:
        if self.named:
            result = self.conn.execute(sqlalchemy.text(_named(sql, names)),
                                       {n: values[n] for n in names})
        else:
            result = self.conn.exec_driver_sql(sql, tuple(values[n] for n in names))
        return list(result.fetchall()) if result.returns_rows else []

    def many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if self.named:
            names = tuple(f"c{i}" for i in range(9))
            self.conn.execute(sqlalchemy.text(_named(sql, names)),
                              [dict(zip(names, row, strict=True)) for row in rows])
        else:
            self.conn.exec_driver_sql(sql, rows)

    def plain(self, sql: str) -> None:
        self.conn.exec_driver_sql(sql)

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()


class _Jdzhi:
    """jdzhi's handle (:func:`jdzhi.registry.db.connect`): SQLAlchemy opens the connection, the
    statements go to the driver's connection under it."""

    def __init__(self, path: Path) -> None:
        from jdzhi.registry.db import connect

        self.db = connect(f"sqlite:///{path}")

    def run(self, sql: str, names: tuple[str, ...], values: dict[str, Any]) -> list[Any]:
        return self.db.execute(sql, [values[n] for n in names]).fetchall()

    def many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self.db.executemany(sql, rows)

    def plain(self, sql: str) -> None:
        self.db.execute(sql)

    def close(self) -> None:
        self.db.close()


Handle = _Raw | _Jdzhi | _Core


def _page_scans(db: Handle, count: int) -> None:
    for start in range(0, count, 100):  # the server stores a batch per transaction
        db.plain("BEGIN IMMEDIATE")
        for number in range(start, start + 100):
            values = _scan_values(number)
            for sql, names in PAGE_SCAN:
                db.run(sql, names, values)
        db.plain("COMMIT")


def _staging(db: Handle, count: int) -> None:
    db.plain("CREATE TEMP TABLE IF NOT EXISTS stage (a, b, c, d, e, f, g, h, i)")
    rows = [(1, 2, "B", "c", "2026-03-10", "2026-03-10T01:00:00Z", f"S{n:08d}", b"r" * 120,
             "HTTPS://X/V/" + "A" * 100) for n in range(count)]
    db.plain("BEGIN")
    for start in range(0, count, 1000):
        db.many(STAGE, rows[start:start + 1000])
    db.plain("COMMIT")


def _audit(db: Handle, count: int) -> None:
    db.plain("BEGIN IMMEDIATE")
    for _ in range(count):
        head = db.run(HEAD, (), {})
        seq, prev = (head[0][0] + 1, head[0][1]) if head else (1, "0" * 64)
        db.run(APPEND, ("s", "a", "e", "d", "p", "h"),
               {"s": seq, "a": "2026-03-10T01:00:00Z", "e": f"x:{seq}", "d": "{}", "p": prev,
                "h": f"{seq:064x}"})
    db.plain("COMMIT")


PATHS: dict[str, tuple[Callable[[Handle, int], None], int]] = {
    "page scan (5 statements)": (_page_scans, 2_000),
    "staging (executemany row)": (_staging, 20_000),
    "audit append (2 statements)": (_audit, 5_000),
}


def _time(make: Callable[[Path], Handle], work: Callable[[Handle, int], None], count: int,
          rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as folder:
            db = make(Path(folder) / "bench.db")
            for statement in SCHEMA:
                db.plain(statement)
            started = time.perf_counter()
            work(db, count)
            best = min(best, time.perf_counter() - started)
            db.close()
    return best / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    makers: dict[str, Callable[[Path], Handle]] = {
        "sqlite3": _Raw,
        "jdzhi Database": _Jdzhi,
        "exec_driver_sql": lambda path: _Core(path, named=False),
        "text()": lambda path: _Core(path, named=True),
    }
    print(f"SQLAlchemy {sqlalchemy.__version__}, SQLite {sqlite3.sqlite_version}; "
          f"µs per item, best of {rounds}")
    print(f"{'path':30}" + "".join(f"{name:>22}" for name in makers))
    for label, (work, count) in PATHS.items():
        base = 0.0
        cells = []
        for name, make in makers.items():
            micros = _time(make, work, count, rounds)
            base = base or micros
            cells.append(f"{micros:8.1f} ({micros / base - 1:+6.1%})" if name != "sqlite3"
                         else f"{micros:8.1f}")
        print(f"{label:30}" + "".join(f"{cell:>22}" for cell in cells))


if __name__ == "__main__":
    main()
