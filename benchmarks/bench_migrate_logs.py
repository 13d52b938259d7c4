"""How long `jdzhi db migrate` takes to put an existing PostgreSQL scan log into month partitions
(revision 0002: ``scans`` and ``page_scans``; revision 0003: ``page_scan_clients``), per million
rows: each revision moves a table's rows in the one transaction of the upgrade.

    scripts/with-postgres .venv/bin/python -m benchmarks.bench_migrate_logs [--rows N]

Run on demand beside a PostgreSQL server (``JDZHI_TEST_DATABASE_URL``; a database is made and
dropped). A database at revision 0001 gets N rows (default 1,000,000) in each of the three
tables, over the 12 months before the clock (bulk-loaded with COPY, analyzed), then is upgraded
to 0002 and then to 0003 (as `jdzhi db migrate` does in one go). Prints JSON: the seconds of each
revision and the seconds per million rows moved.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from benchmarks.bench_scan_log import COLUMNS, _scan_rows
from benchmarks.run import fresh_database

PAGE_COLUMNS = ("scanned_at", "location", "latitude", "longitude", "verdict", "enterprise_id",
                "serial", "label_text", "reasons")
CLIENT_COLUMNS = ("enterprise_id", "serial", "day", "client", "scanned_at", "location",
                  "latitude", "longitude")


def _page_rows(count: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    for at, *_, serial, _, enterprise_id, _, reasons in _scan_rows(count, now):
        yield at, "Jingdezhen", 29.27, 117.18, "genuine", enterprise_id, serial, "", reasons


def _client_rows(count: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    for number, (at, *_, serial, _, enterprise_id, _, _) in enumerate(_scan_rows(count, now)):
        yield (enterprise_id, serial, at[:10], number.to_bytes(16, "big"), at, "29.27,117.18",
               29.27, 117.18)


def _upgrade(db: Any, revision: str) -> float:
    """Seconds to upgrade ``db`` to ``revision`` in one write transaction."""
    from alembic import command

    from jdzhi.registry.db import transaction
    from jdzhi.registry.migrations import alembic_config

    start = time.perf_counter()
    try:
        with transaction(db):
            db.core.begin()
            command.upgrade(alembic_config(db.core), revision)
    finally:
        db.core.rollback()  # ends SQLAlchemy's logical transaction (as registry.db.migrate)
    return time.perf_counter() - start


def measure(rows: int) -> dict[str, Any]:
    from jdzhi.registry.db import connect, transaction
    from jdzhi.timeutil import stored_time

    server = os.environ.get("JDZHI_TEST_DATABASE_URL")
    if not server:
        raise SystemExit("run under scripts/with-postgres (JDZHI_TEST_DATABASE_URL)")
    now = stored_time("2026-03-10T01:00:00Z")
    with fresh_database(server, "jdzhi_bench") as url:
        db = connect(url)
        try:
            _upgrade(db, "0001")
            with transaction(db):
                db.copy_in("scans", COLUMNS, _scan_rows(rows, now))
                db.copy_in("page_scans", PAGE_COLUMNS, _page_rows(rows, now))
                db.copy_in("page_scan_clients", CLIENT_COLUMNS, _client_rows(rows, now))
            db.execute("ANALYZE")
            logs, clients = _upgrade(db, "0002"), _upgrade(db, "0003")
        finally:
            db.close()
    million = rows / 1_000_000
    return {"rows_per_table": rows, "0002_s": round(logs, 1), "0003_s": round(clients, 1),
            "0002_s_per_million_rows": round(logs / (2 * million), 1),
            "0003_s_per_million_rows": round(clients / million, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_migrate_logs",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in each table")
    print(json.dumps(measure(parser.parse_args().rows)))


if __name__ == "__main__":
    main()
