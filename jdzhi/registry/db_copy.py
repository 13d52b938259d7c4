"""``jdzhi db copy``: move a home's SQLite registry into an empty PostgreSQL database.

The target is migrated to this jdzhi's newest revision and filled table by table (tables a row
refers to before the rows that refer to them; rows in key order, their ids kept), streamed in
chunks, in one transaction that also checks the copy: row counts, ``registry audit``
(:func:`jdzhi.registry.entries.audit_registry`) and every transparency-log checkpoint. Any failure
rolls the whole transaction back, so the target is left as it was: empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from jdzhi.errors import Conflict, IntegrityError, InvalidInput
from jdzhi.home import Home
from jdzhi.registry._database import Cursor, Database, connect, dialect_of
from jdzhi.registry._postgresql_schema import WORKS_CHANGED_FUNCTION
from jdzhi.registry.audit import AuditReport
from jdzhi.registry.db import migrate, open_registry, transaction

__all__ = ["CHUNK_ROWS", "CopyResult", "Progress", "copy_registry"]

#: rows read from SQLite and sent to PostgreSQL at a time (memory stays flat for any log size)
CHUNK_ROWS = 5000
#: tables the schema's own triggers write (the works index's stamp): copied after every other
#: table, so that the stamp copied is the one kept
_TRIGGER_WRITTEN = tuple(re.findall(r"UPDATE (\w+)", WORKS_CHANGED_FUNCTION))
#: the table the target's migration fills itself (at the same revision as the home's)
_MIGRATION_TABLES = ("alembic_version",)
#: a table the target's migration fills with the component versions it made: it gets the home's
#: rows instead (the same versions, with when the home got them)
_REPLACED = ("schema_migrations",)

#: called as rows are copied: (table, rows copied so far, rows in the table)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class CopyResult:
    """What ``jdzhi db copy`` copied (rows per table, in copy order) and what the copy's checks
    found: the registry audit, and how many transparency-log checkpoints verify."""

    source: str
    target: str
    revision: str
    tables: dict[str, int]
    audit: AuditReport
    checkpoints: int

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def copy_registry(home: Home, to_url: str, *, progress: Progress | None = None) -> CopyResult:
    """Copy the registry of ``home`` (its SQLite file) into the empty PostgreSQL database at
    ``to_url``: all or nothing. Refuses a target that is SQLite, the home's own database or not
    empty (:class:`Conflict`: nothing written), and a copy that fails its checks
    (:class:`IntegrityError`: rolled back)."""
    if dialect_of(to_url) != "postgresql":
        raise InvalidInput("`db copy --to` takes a PostgreSQL database URL (postgresql://…): "
                           "the registry is copied from the home's SQLite file")
    if home.database_url is not None and dialect_of(home.database_url) == "postgresql":
        what = "the same database" if home.database_url == to_url else "PostgreSQL"
        raise InvalidInput(f"the home's registry is already in {what} (--db / "
                           "JDZHI_DATABASE_URL): `db copy` copies a SQLite registry")
    source = open_registry(home)
    try:
        target = connect(to_url, home=home)
        try:
            return _copy(source, target, progress)
        finally:
            target.close()
    finally:
        source.close()


def _copy(source: Database, target: Database, progress: Progress | None) -> CopyResult:
    from jdzhi.registry.entries import audit_registry
    from jdzhi.trace.tlog.registry_log import checkpoint_problems

    source.execute("BEGIN")  # one snapshot of the source, even while a server writes to it
    try:
        with transaction(target):
            _refuse_unless_empty(target)
            migrate(target, explicit=True)
            _make_months(source, target)
            counts = {table: _copy_table(source, target, table, progress)
                      for table in _copy_order(target)}
            _continue_identities(target)
            report = audit_registry(target)
            checkpoints, problems = checkpoint_problems(target)
            if not report.ok or problems:
                first = (*report.problems, *problems)[0]
                raise IntegrityError(f"the copy fails its checks ({first}); nothing was written: "
                                     "run `jdzhi registry audit` on the home")
            revision = str(target.execute("SELECT version_num FROM alembic_version").fetchone()[0])
    except target.driver_error as error:
        raise IntegrityError(f"the copy failed, nothing was written: "
                             f"{target.translate(error).message}") from None
    except source.driver_error as error:
        raise source.translate(error) from None
    finally:
        source.execute("ROLLBACK")
        target.core.rollback()  # ends the logical transaction the migration began
    return CopyResult(source.location, target.location, revision, counts, report, checkpoints)


def _refuse_unless_empty(target: Database) -> None:
    """A new database (no tables), or one whose schema has no rows, takes a copy."""
    for (table,) in target.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").fetchall():
        if table in _MIGRATION_TABLES or table in _REPLACED:
            continue
        if target.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}")').fetchone()[0]:
            raise Conflict(f"the database at {target.location} is not empty (table {table} has "
                           "rows): `db copy` fills only an empty database; nothing was written")


def _make_months(source: Database, target: Database) -> None:
    """The month partitions of the scan logs for every month the source's logs hold, so that
    each copied scan lands in its month (detachable later), not in the default partition."""
    from datetime import UTC, datetime

    from jdzhi.trace.scanning.months import BY_MONTH, ensure_months

    months = {row[0] for table, column in BY_MONTH.items() for row in source.execute(
        f'SELECT DISTINCT substr("{column}", 1, 7) FROM "{table}"').fetchall()}
    for month in sorted(months):
        try:
            first_day = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
        except (TypeError, ValueError):
            continue  # not a month: its rows go to the default partition
        ensure_months(target, first_day)


def _copy_order(target: Database) -> list[str]:
    """The target's tables in the schema's order, each after the tables its foreign keys name,
    the tables triggers write last."""
    tables = [row[0] for row in target.execute(
        # partitioned tables, not their partitions: COPY into the parent routes each row
        "SELECT c.relname FROM pg_class c WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
        "AND c.relnamespace = current_schema()::regnamespace ORDER BY c.oid")
        if row[0] not in _MIGRATION_TABLES]
    needs: dict[str, set[str]] = {table: set() for table in tables}
    for child, parent in target.execute(
            "SELECT c.relname, p.relname FROM pg_constraint k JOIN pg_class c ON c.oid = "
            "k.conrelid JOIN pg_class p ON p.oid = k.confrelid WHERE k.contype = 'f' "
            "AND k.connamespace = current_schema()::regnamespace"):
        if child != parent:
            needs[child].add(parent)
    order: list[str] = []
    pending = [t for t in tables if t not in _TRIGGER_WRITTEN] + \
        [t for t in tables if t in _TRIGGER_WRITTEN]
    while pending:
        ready = next(t for t in pending if needs[t] <= set(order))
        order.append(ready)
        pending.remove(ready)
    return order


def _key_columns(target: Database, table: str) -> list[str]:
    return [row[0] for row in target.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY (i.indkey) WHERE i.indisprimary AND i.indrelid = ?::regclass "
        "ORDER BY array_position(i.indkey::int2[], a.attnum)", [f'"{table}"'])]


def _copy_table(source: Database, target: Database, table: str,
                progress: Progress | None) -> int:
    columns = [row[0] for row in target.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = ? ORDER BY ordinal_position", [table])]
    total = int(source.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
    keys = ", ".join(f'"{column}"' for column in _key_columns(target, table))
    names = ", ".join(f'"{column}"' for column in columns)
    cursor = source.execute(f'SELECT {names} FROM "{table}"' + (f" ORDER BY {keys}" if keys
                                                                else ""))
    if table in _REPLACED:
        target.execute(f'DELETE FROM "{table}"')
    copied = 0
    try:
        for chunk in _chunks(cursor):
            target.copy_in(table, columns, chunk)
            copied += len(chunk)
            if progress is not None:
                progress(table, copied, total)
    except target.driver_error as error:
        raise IntegrityError(f"the copy failed at table {table} (rows {copied + 1} to "
                             f"{copied + CHUNK_ROWS} in key order), nothing was written: "
                             f"{target.translate(error).message}") from None
    stored = int(target.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
    if stored != copied or copied != total:
        raise IntegrityError(f"table {table}: {total} rows in the home, {copied} read, {stored} "
                             "in the copy; nothing was written")
    return copied


def _chunks(cursor: Cursor) -> Iterator[Sequence[Sequence[Any]]]:
    while chunk := cursor.fetchmany(CHUNK_ROWS):
        yield chunk


def _continue_identities(target: Database) -> None:
    """Set each identity column's sequence to its table's largest id, so that new rows continue
    after the copied ones (an empty table starts at 1)."""
    for table, column in target.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema "
            "= current_schema() AND is_identity = 'YES'").fetchall():
        target.execute(
            f'SELECT setval(pg_get_serial_sequence(?, ?), coalesce(max("{column}"), 1), '
            f'max("{column}") IS NOT NULL) FROM "{table}"', [f'"{table}"', column])
