"""The registry database: the handle every module uses, its migrations and its transactions.

Every component keeps its tables in one database: the home's SQLite file (``registry.db``), the
embedded default. A component is a module with three names: ``COMPONENT`` (its name),
``MIGRATIONS`` (a tuple of versions, each a tuple of SQL statements, applied in order and recorded
in ``schema_migrations``) and ``AUDITED_TABLES`` (table name to primary-key column, for rows that
the audit log must account for).

:class:`Database` (``registry/_database.py``) is the one place where SQL dialects differ. On
PostgreSQL (the home's ``database_url``) a new registry gets today's schema whole, translated from
SQLite's by ``registry/_postgresql_schema.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from types import ModuleType
from typing import Any, Literal

from jdzhi.components import COMPONENT_MODULES
from jdzhi.errors import Conflict, ExitCode, InvalidState, JdzhiError, NotInitialized
from jdzhi.home import Home
from jdzhi.registry._database import (
    BUSY_TIMEOUT_SECONDS,
    Cursor,
    Database,
    Dialect,
    connect,
)
from jdzhi.timeutil import format_time, utc_now

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "ClockKind",
    "Cursor",
    "Database",
    "Dialect",
    "InitResult",
    "audited_tables",
    "components",
    "connect",
    "in_memory",
    "initialize",
    "integrity_check",
    "migrate",
    "open_registry",
    "rows",
    "seed",
    "transaction",
]

ClockKind = Literal["real", "simulated"]


@cache
def components() -> tuple[ModuleType, ...]:
    """The component modules (:data:`jdzhi.components.COMPONENT_MODULES`), imported."""
    return tuple(import_module(name) for name in COMPONENT_MODULES)


@cache
def audited_tables() -> Mapping[str, str]:
    """Every table whose rows the audit log accounts for, with its primary-key column."""
    tables: dict[str, str] = {}
    for module in components():
        tables.update(module.AUDITED_TABLES)
    return tables


@dataclass(frozen=True)
class InitResult:
    path: str
    created: bool
    applied_migrations: tuple[str, ...]



def _open_home(home: Home) -> Database:
    """The home's database: at its URL, else its SQLite file."""
    return connect(home.database_url or f"sqlite:///{home.db_path}", home=home)


def open_registry(home: Home) -> Database:
    """Open the registry of ``home``, applying pending migrations; it must exist already.

    ``JDZHI_NOW`` would let anyone back-date signatures and registry changes, so only a home made
    on a simulated clock (by the test suite or ``jdzhi demo``) opens while it is set."""
    if not home.has_registry:
        raise NotInitialized(f"no registry at {home.path}: run `jdzhi init` first")
    db = _open_home(home)
    try:
        if db.dialect == "postgresql" and not _has_schema(db):
            raise NotInitialized(f"no registry in the database at {db.location}: run `jdzhi init` "
                                 "first")
        migrate(db)
    except BaseException:
        db.close()
        raise
    if os.environ.get("JDZHI_NOW") and _clock_of(db) != "simulated":
        db.close()
        raise JdzhiError(
            "JDZHI_NOW is set, but this home runs on the real clock: JDZHI_NOW moves the clock "
            "only in homes made with it (demos and tests); unset it",
            ExitCode.USAGE,
        )
    return db


def initialize(home: Home, *, simulated_clock: bool = False) -> InitResult:
    """Create the home and its registry, or bring an existing one's schema up to date.

    A new home runs on the real clock unless it is made with ``JDZHI_NOW`` set or
    ``simulated_clock`` (a demo's home); that choice is made once, when the home is made."""
    if home.database_url is None:
        home.path.mkdir(parents=True, exist_ok=True)
    db = _open_home(home)  # a server that cannot be reached leaves no home folder behind
    try:
        created = not _has_schema(db)
        home.path.mkdir(parents=True, exist_ok=True)
        applied = migrate(db)
        if _clock_of(db) is None:
            simulated = simulated_clock or bool(os.environ.get("JDZHI_NOW"))
            with transaction(db):
                db.execute("INSERT INTO home_clock (id, kind, recorded_at) VALUES (1, ?, ?) "
                           "ON CONFLICT DO NOTHING",
                           ["simulated" if simulated else "real", format_time(utc_now())])
        seed(db)
    finally:
        db.close()
    return InitResult(path=db.location, created=created, applied_migrations=applied)


def _clock_of(db: Database) -> ClockKind | None:
    """The clock a home was made on; None before `jdzhi init` finished making it."""
    row = db.execute("SELECT kind FROM home_clock WHERE id = 1").fetchone()
    if row is None:
        return None
    return "simulated" if row[0] == "simulated" else "real"


def seed(db: Database) -> None:
    """Run each component's optional ``seed(db)`` hook (built-in rows, written with audit
    entries); hooks insert only what is missing, so running them again changes nothing."""
    for module in components():
        hook = getattr(module, "seed", None)
        if hook is not None:
            hook(db)


def in_memory() -> Database:
    """A migrated registry in memory, for tests and dry runs."""
    db = connect("sqlite://")
    migrate(db)
    return db


def migrate(db: Database) -> tuple[str, ...]:
    """Apply every migration that the database lacks, each version in its own transaction."""
    if db.dialect == "postgresql":
        return _make_postgresql_schema(db)
    applied: list[str] = []
    try:
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, "
            "version INTEGER NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (component, version))"
        )
        if not db.has_table("home_clock"):
            # which clock the home runs on (see initialize); a home made before this table existed
            # has history, and was made on the real clock
            with transaction(db):
                db.execute(
                    "CREATE TABLE IF NOT EXISTS home_clock (id INTEGER PRIMARY KEY CHECK (id = 1), "
                    "kind TEXT NOT NULL CHECK (kind IN ('real', 'simulated')), "
                    "recorded_at TEXT NOT NULL)")
                if db.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]:
                    db.execute("INSERT INTO home_clock VALUES (1, 'real', ?) "
                               "ON CONFLICT DO NOTHING", [format_time(utc_now())])
        for module in components():
            name: str = module.COMPONENT
            migrations: Sequence[Sequence[str]] = module.MIGRATIONS
            current = _schema_version(db, name)
            if current > len(migrations):
                raise InvalidState(
                    f"the registry's {name} schema is version {current}, newer than this jdzhi "
                    f"knows ({len(migrations)}): upgrade jdzhi"
                )
            for version in range(current + 1, len(migrations) + 1):
                with transaction(db):
                    # re-read under the write lock: another process may have migrated meanwhile
                    if _schema_version(db, name) >= version:
                        continue
                    for statement in migrations[version - 1]:
                        db.execute(statement)
                    db.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                        [name, version, format_time(utc_now())],
                    )
                applied.append(f"{name}:{version}")
    except db.driver_error as error:
        raise db.translate(error) from None
    return tuple(applied)


def _has_schema(db: Database) -> bool:
    return db.has_table("schema_migrations")


@cache
def _sqlite_schema() -> tuple[str, ...]:
    """Every statement of today's schema, as SQLite keeps them (tables before their indexes)."""
    db = in_memory()
    try:
        return tuple(row[0] for row in db.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"))
    finally:
        db.close()


def _rows_of_migrations() -> dict[str, list[tuple[Any, ...]]]:
    """The rows that the migrations write (``schema_migrations``, ``works_state``'s stamp), as
    a new SQLite registry holds them."""
    db = in_memory()
    try:
        tables = [row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")]
        found = {table: [tuple(row) for row in db.execute(f'SELECT * FROM "{table}"')]
                 for table in tables}
    finally:
        db.close()
    return {table: rows_of_table for table, rows_of_table in found.items() if rows_of_table}


def _make_postgresql_schema(db: Database) -> tuple[str, ...]:
    """A new PostgreSQL registry gets today's schema whole, in one transaction: the tables
    (translated from SQLite's by :mod:`jdzhi.registry._postgresql_schema`) and the rows the
    migrations write. A PostgreSQL schema of another version is refused until its migrations
    exist."""
    from jdzhi.registry._postgresql_schema import postgresql_schema

    versions = {module.COMPONENT: len(module.MIGRATIONS) for module in components()}
    try:
        with transaction(db):
            if _has_schema(db):
                for name, latest in versions.items():
                    if (current := _schema_version(db, name)) != latest:
                        raise InvalidState(
                            f"the registry's {name} schema in {db.location} is version "
                            f"{current}, this jdzhi's is {latest}: use the jdzhi that made it")
                return ()
            for statement in postgresql_schema(list(_sqlite_schema())):
                db.execute(statement)
            for table, rows_of_table in _rows_of_migrations().items():
                marks = ", ".join("?" * len(rows_of_table[0]))
                db.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows_of_table)
    except db.driver_error as error:
        raise db.translate(error) from None
    return tuple(f"{name}:{version}" for name, latest in versions.items()
                 for version in range(1, latest + 1))


def _schema_version(db: Database, component: str) -> int:
    row = db.execute(
        "SELECT MAX(version) FROM schema_migrations WHERE component = ?", [component]
    ).fetchone()
    return int(row[0] or 0)


@contextmanager
def transaction(db: Database) -> Iterator[Database]:
    """One all-or-nothing write transaction.

    It takes the registry's write lock up front (SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's
    advisory lock), so that two writers queue instead of one failing when it upgrades a read
    lock. Inside a transaction it is a savepoint. Any exception rolls everything back.
    """
    if db.in_transaction:
        with _savepoint(db):
            yield db
        return
    try:
        db.begin_write()
    except db.driver_error as error:
        raise db.translate(error) from None
    try:
        yield db
    except BaseException as error:
        if db.in_transaction:
            db.execute("ROLLBACK")
        if db.is_unique_violation(error):
            # another process wrote the same key between our checks and our insert
            raise Conflict(
                f"a concurrent change got there first ({error}); nothing was written"
            ) from None
        raise
    try:
        db.execute("COMMIT")
    except db.driver_error as error:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise db.translate(error) from None


@contextmanager
def _savepoint(db: Database) -> Iterator[None]:
    name = db.next_savepoint()
    db.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        db.execute(f"ROLLBACK TO SAVEPOINT {name}")
        db.execute(f"RELEASE SAVEPOINT {name}")
        raise
    db.execute(f"RELEASE SAVEPOINT {name}")


def rows(db: Database, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Run a query and return its rows as dicts."""
    cursor = db.execute(sql, list(params))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def integrity_check(db: Database) -> list[str]:
    """The database's own checks; an empty list means it is sound: every table of the schema is
    there and every trigger that keeps a log append-only is there and enabled; on SQLite also its
    integrity and foreign-key checks (a PostgreSQL server keeps its pages and foreign keys sound
    itself)."""
    from jdzhi.registry._postgresql_schema import schema_problems

    if db.dialect == "postgresql":
        tables = {row[0] for row in db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
        triggers = {row[0]: row[1] for row in db.execute(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal")}
        return schema_problems(list(_sqlite_schema()), tables, triggers)
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    triggers = {row[0]: "O" for row in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    problems = schema_problems(list(_sqlite_schema()), tables, triggers)
    problems += [row[0] for row in db.execute("PRAGMA integrity_check").fetchall()
                 if row[0] != "ok"]
    problems += [
        f"foreign key broken in {row[0]} row {row[1]}"
        for row in db.execute("PRAGMA foreign_key_check").fetchall()
    ]
    return problems
