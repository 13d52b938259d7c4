"""The scan logs by month on PostgreSQL: a partition a month, old months detachable.

On PostgreSQL ``scans`` (the inspectors' scan log) and ``page_scans`` (the page's checks) are
partitioned by the month of ``scanned_at`` (revision 0002), and ``page_scan_clients`` (the page's
clients a serial and day) by the month of its ``day`` (revision 0003): ``scans_2026_03`` holds
March 2026, ``scans_default`` whatever has no month of its own. Writers make the partitions of the
month they write in and of the next one (:func:`ensure_months`, once a month per process, under the
write lock), so a month's scans land in its own partition from its first second. An old month is
taken out of the live log whole with :func:`detach_month` (`jdzhi db detach-scans`): its tables
stay in the database, outside the log, to be archived and dropped; no row is deleted.
SQLite keeps one table each (one machine's log; nothing to detach).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from jdzhi.errors import InvalidInput, InvalidState, NotFound

if TYPE_CHECKING:
    from jdzhi.home import Home
    from jdzhi.registry.db import Database

__all__ = ["BY_MONTH", "DetachedMonth", "detach_month", "ensure_months", "month_bounds",
           "partition_name"]

#: the tables partitioned by month, and the column whose month puts a row in a partition
BY_MONTH = {"scans": "scanned_at", "page_scans": "scanned_at", "page_scan_clients": "day"}

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

#: (database, month) whose partitions this process has made or found
_ENSURED: set[tuple[str, str]] = set()


def month_bounds(month: str) -> tuple[str, str]:
    """``"2026-03"`` -> ``("2026-03", "2026-04")``: the partition's range of ``scanned_at``
    (stored times are ``YYYY-MM-DDTHH:MM:SSZ``, compared as "C" text)."""
    match = _MONTH.match(month)
    if match is None:
        raise InvalidInput(f"{month[:40]!r} is not a month (YYYY-MM)")
    year, number = int(match[1]), int(match[2])
    following = f"{year + 1:04d}-01" if number == 12 else f"{year:04d}-{number + 1:02d}"
    return month, following


def partition_name(table: str, month: str) -> str:
    return f"{table}_{month.replace('-', '_')}"


def ensure_months(db: Database, moment: datetime) -> None:
    """Make the partitions of ``moment``'s month and the next, under the registry's write lock
    (in the caller's write transaction, else in one of their own), so two writers never make
    one at once. Scans call it before their own transaction, which holds the write lock only
    shared. A month whose rows are in the default partition already keeps them there
    (PostgreSQL refuses the partition)."""
    if db.dialect != "postgresql":
        return
    month = f"{moment.year:04d}-{moment.month:02d}"
    for wanted in (month, month_bounds(month)[1]):
        if (db.location, wanted) in _ENSURED:
            continue
        _make_partitions(db, wanted)
        _ENSURED.add((db.location, wanted))


def _make_partitions(db: Database, month: str) -> None:
    from jdzhi.registry.db import transaction

    start, end = month_bounds(month)
    for table in BY_MONTH:
        try:
            with transaction(db):  # (a savepoint in the caller's) a refusal leaves its work alone
                db.execute(f'CREATE TABLE IF NOT EXISTS "{partition_name(table, month)}" '
                           f"PARTITION OF {table} FOR VALUES FROM ('{start}') TO ('{end}')")
        except db.driver_error:
            continue  # the default partition holds rows of that month: they stay there


@dataclass(frozen=True)
class DetachedMonth:
    month: str
    #: table of the live log -> (the detached table, its rows)
    tables: dict[str, tuple[str, int]]


def detach_month(home: Home, month: str, *, keep_days: float = 30.0,
                 now: datetime | None = None) -> DetachedMonth:
    """Take a past month's partitions out of the scan logs (PostgreSQL): its scans no longer
    count in checks or clone rules; the tables stay, to be archived and dropped. A month that
    ends within ``keep_days`` (the clone window) of ``now`` is refused."""
    from jdzhi.registry import audit
    from jdzhi.registry.db import open_registry, transaction
    from jdzhi.timeutil import format_time, stored_time, utc_now

    end = month_bounds(month)[1]
    moment = now or utc_now()
    if stored_time(f"{end}-01T00:00:00Z") > moment - timedelta(days=keep_days):
        raise InvalidInput(f"{month} ends less than {keep_days:g} days ago: its scans are still "
                           "in the clone window")
    db = open_registry(home)
    try:
        if db.dialect != "postgresql":
            raise InvalidState("only a PostgreSQL registry keeps its scan log by month "
                               "(a SQLite registry has nothing to detach)")
        with transaction(db):
            found = {table: _partition_rows(db, table, month) for table in BY_MONTH}
            if all(rows is None for rows in found.values()):
                raise NotFound(f"the scan logs have no partition of {month} (detached already, "
                               "or its scans are in the default partition)")
            tables: dict[str, tuple[str, int]] = {}
            for table, rows in found.items():
                if rows is not None:
                    name = partition_name(table, month)
                    db.execute(f'ALTER TABLE {table} DETACH PARTITION "{name}"')
                    tables[table] = (name, rows)
            audit.append(db, action="scans.detach", entity=f"scans:{month}", before=None,
                         after={table: {"table": name, "rows": rows}
                                for table, (name, rows) in tables.items()},
                         details={"month": month, "at": format_time(moment)})
    finally:
        db.close()
    return DetachedMonth(month, tables)


def _partition_rows(db: Database, table: str, month: str) -> int | None:
    """The rows of ``table``'s partition of ``month`` (None: it has none)."""
    name = partition_name(table, month)
    attached = db.execute(
        "SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = ?::regclass AND c.relname = ?", [table, name]).fetchone()
    if attached is None:
        return None
    return int(db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
