"""The registry database: the handle every module uses, its migrations and its transactions.

Every component keeps its tables in one database: the home's SQLite file (``registry.db``), the
embedded default, or the PostgreSQL database at the home's ``database_url`` (``--db`` /
``JDZHI_DATABASE_URL``). A component is a module with three names: ``COMPONENT`` (its name),
``MIGRATIONS`` (its schema versions before Alembic, frozen: see :mod:`jdzhi.registry.migrations`,
whose revisions change the schema now) and ``AUDITED_TABLES`` (table name to primary-key column,
for rows that the audit log must account for).

:class:`Database` (``registry/_database.py``) is the one place where SQL dialects differ.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from jdzhi.components import COMPONENT_MODULES
from jdzhi.errors import Conflict, ExitCode, InvalidInput, InvalidState, JdzhiError, NotInitialized
from jdzhi.home import Home
from jdzhi.registry._database import (
    BUSY_TIMEOUT_SECONDS,
    Cursor,
    Database,
    Dialect,
    connect,
    dialect_of,
)
from jdzhi.timeutil import format_time, utc_now

if TYPE_CHECKING:
    from jdzhi.registry import migrations

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "ClockKind",
    "Cursor",
    "Database",
    "Dialect",
    "InitResult",
    "MigrateResult",
    "audited_tables",
    "components",
    "connect",
    "dialect_of",
    "in_memory",
    "initialize",
    "integrity_check",
    "migrate",
    "migrate_home",
    "open_registry",
    "open_store",
    "rows",
    "scan_transaction",
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
    """What :func:`initialize` found or made: where the database is, whether this call made it,
    and what :func:`migrate` applied to it (nothing when it was up to date)."""

    path: str
    created: bool
    applied_migrations: tuple[str, ...]


def _open_home(home: Home) -> Database:
    """The home's database: at its URL, else its SQLite file."""
    return connect(home.database_url or f"sqlite:///{home.db_path}", home=home)


def _has_schema(db: Database) -> bool:
    return db.has_table("alembic_version") or db.has_table("schema_migrations")


def _opened(home: Home) -> Database:
    """The home's existing registry, not migrated (NotInitialized when there is none)."""
    if not home.has_registry:
        raise NotInitialized(f"no registry at {home.path}: run `jdzhi init` first")
    db = _open_home(home)
    if db.dialect == "postgresql" and not _has_schema(db):
        db.close()
        raise NotInitialized(f"no registry in the database at {db.location}: run `jdzhi init` "
                             "first")
    return db


def open_registry(home: Home) -> Database:
    """Open the registry of ``home``, applying pending migrations; it must exist already.

    ``JDZHI_NOW`` would let anyone back-date signatures and registry changes, so only a home made
    on a simulated clock (by the test suite or ``jdzhi demo``) opens while it is set."""
    return _migrated(_opened(home))


def open_store(path: Path, modules: Sequence[ModuleType]) -> Database:
    """Open (made on first use) a home's database other than the registry, e.g. a workshop's
    store, as the registry is opened: the migrations of ``modules``, the home's clock rule."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidInput(f"cannot make the jdzhi home {path.parent}: {error.strerror}") from None
    return _migrated(connect(f"sqlite:///{path}"), modules, record_clock=True)


def _migrated(db: Database, modules: Sequence[ModuleType] | None = None, *,
              record_clock: bool = False) -> Database:
    """``db`` migrated (its clock recorded if asked and new), on its clock; closed on failure."""
    try:
        if modules is None:
            migrate(db)
        else:
            _migrate_store(db, modules)
        if record_clock and _clock_of(db) is None:
            _record_clock(db, simulated=bool(os.environ.get("JDZHI_NOW")))
    except BaseException:
        db.close()
        raise
    return _on_its_clock(db)


def _on_its_clock(db: Database) -> Database:
    """``db``, unless JDZHI_NOW is set and its home runs on the real clock (then closed)."""
    if os.environ.get("JDZHI_NOW") and _clock_of(db) != "simulated":
        db.close()
        raise JdzhiError(
            "JDZHI_NOW is set, but this home runs on the real clock: JDZHI_NOW moves the clock "
            "only in homes made with it (demos and tests); unset it",
            ExitCode.USAGE,
        )
    return db


def _record_clock(db: Database, *, simulated: bool) -> None:
    with transaction(db):
        db.execute("INSERT INTO home_clock (id, kind, recorded_at) VALUES (1, ?, ?) "
                   "ON CONFLICT DO NOTHING",
                   ["simulated" if simulated else "real", format_time(utc_now())])


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
            _record_clock(db, simulated=simulated_clock or bool(os.environ.get("JDZHI_NOW")))
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


def migrate(db: Database, *, explicit: bool = False) -> tuple[str, ...]:
    """Bring the database's schema to this jdzhi's newest revision in one transaction (see
    :mod:`jdzhi.registry.migrations`); what was applied: old component versions (``name:version``)
    and Alembic revisions.

    Opening a registry migrates a SQLite file, which one machine uses. A PostgreSQL database that
    has a schema is migrated only when asked (``explicit``, ``jdzhi db migrate``): several servers
    share it, and the first to start a new jdzhi must not change the schema under the others."""
    done = _upgrade(db, explicit=explicit)
    return done.components + done.revisions


def _upgrade(db: Database, *, explicit: bool) -> migrations.Upgrade:
    import sqlalchemy

    from jdzhi.registry import migrations

    if _revision_of(db) == migrations.HEAD:
        return migrations.Upgrade((), None, ())
    if db.dialect == "postgresql" and not explicit and (
            db.has_table("alembic_version") or db.has_table("schema_migrations")):
        raise InvalidState(
            f"the registry's schema in {db.location} is not this jdzhi's ({migrations.HEAD}): "
            "run `jdzhi db migrate` first")
    try:
        with transaction(db):
            return migrations.upgrade(db.core)
    except (db.driver_error, sqlalchemy.exc.DBAPIError) as error:
        orig = error.orig if isinstance(error, sqlalchemy.exc.DBAPIError) else error
        raise db.translate(orig or error) from None
    finally:
        if not db.in_transaction:
            db.core.rollback()  # ends SQLAlchemy's logical transaction (see migrations.upgrade)


def _migrate_store(db: Database, modules: Sequence[ModuleType]) -> None:
    """A home's other store keeps its components' own migrations (no Alembic: one file, one
    process at a kiln)."""
    from jdzhi.registry.migrations._components import apply_missing

    try:
        with transaction(db):
            apply_missing(db.core, modules)
    except db.driver_error as error:
        raise db.translate(error) from None
    finally:
        if not db.in_transaction:
            db.core.rollback()  # ends SQLAlchemy's logical transaction, as _upgrade does


def _revision_of(db: Database) -> str | None:
    if not db.has_table("alembic_version"):
        return None
    row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else str(row[0])


@dataclass(frozen=True)
class MigrateResult:
    """What ``jdzhi db migrate`` did to the database (kind, where): the revision it was at (None:
    before Alembic), the old component versions it applied (``name:version``), the revision it
    stamped an existing schema at, the Alembic revisions it applied, and the revision it is at."""

    database: Dialect
    location: str
    previous_revision: str | None
    components: tuple[str, ...]
    stamped: str | None
    applied: tuple[str, ...]
    revision: str


def migrate_home(home: Home) -> MigrateResult:
    """Bring the home's database to this jdzhi's newest schema revision (``jdzhi db migrate``);
    running it again changes nothing."""
    db = _opened(home)
    try:
        previous = _revision_of(db)
        done = _upgrade(db, explicit=True)
        revision = _revision_of(db)
    finally:
        db.close()
    assert revision is not None
    return MigrateResult(db.dialect, db.location, previous, done.components, done.stamped,
                         done.revisions, revision)


@contextmanager
def transaction(db: Database) -> Iterator[Database]:
    """One all-or-nothing write transaction.

    It takes the registry's write lock up front (SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's
    advisory lock), so that two writers queue instead of one failing when it upgrades a read
    lock. Inside a transaction it is a savepoint. Any exception rolls everything back.
    """
    with _written(db, db.begin_write):
        yield db


@contextmanager
def scan_transaction(db: Database, serials: Iterable[tuple[int, str]]) -> Iterator[Database]:
    """A :func:`transaction` that stores scans of ``serials`` (enterprise id, serial) and writes
    nothing else: on PostgreSQL, scans of other serials are stored at the same time
    (:meth:`Database.begin_scans`)."""
    with _written(db, lambda: db.begin_scans(serials)):
        yield db


@contextmanager
def _written(db: Database, begin: Callable[[], None]) -> Iterator[None]:
    if db.in_transaction:
        with _savepoint(db):
            yield
        return
    try:
        begin()
    except db.driver_error as error:
        if db.in_transaction:  # begun, but its lock was not granted
            db.execute("ROLLBACK")
        raise db.translate(error) from None
    try:
        yield
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


@cache
def _sqlite_schema() -> tuple[str, ...]:
    """Every statement of today's schema, as SQLite keeps them (tables before their indexes)."""
    db = in_memory()
    try:
        return tuple(row[0] for row in db.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"))
    finally:
        db.close()


def integrity_check(db: Database) -> list[str]:
    """The database's own checks; an empty list means it is sound: every table of the schema is
    there and every trigger that keeps a log append-only is there and enabled; on SQLite also its
    integrity and foreign-key checks (a PostgreSQL server keeps its pages and foreign keys sound
    itself)."""
    from jdzhi.registry._postgresql_schema import schema_problems

    if db.dialect == "postgresql":
        tables = {row[0] for row in db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
        # a partition has its table's triggers under their names: disabled on one is disabled
        triggers: dict[str, str] = {}
        for name, enabled in db.execute(
                "SELECT tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal"):
            triggers[name] = "D" if "D" in (enabled, triggers.get(name)) else enabled
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
