"""The registry database: the handle every module uses, its migrations and its transactions.

Every component keeps its tables in one database: the home's SQLite file (``registry.db``), the
embedded default. A component is a module with three names: ``COMPONENT`` (its name),
``MIGRATIONS`` (its schema versions before Alembic, frozen: see :mod:`jdzhi.registry.migrations`,
whose revisions change the schema now) and ``AUDITED_TABLES`` (table name to primary-key column,
for rows that the audit log must account for).

:class:`Database` is the one place where SQL dialects differ. SQLAlchemy Core opens the connection
(URL, dialect, driver); statements go straight to the driver's connection under it, because
SQLAlchemy's own execution costs 20-90 µs a statement, three times what SQLite takes for the
server's scan statements (``benchmarks/db_overhead.py``). Modules write ``?`` placeholders and
dialect-neutral SQL (``ON CONFLICT DO NOTHING``, ``RETURNING id``); for PostgreSQL (psycopg 3)
:class:`Database` translates the placeholders once per statement text.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, Protocol

from jdzhi.components import COMPONENT_MODULES
from jdzhi.errors import (
    Busy,
    Conflict,
    ExitCode,
    IntegrityError,
    InvalidInput,
    InvalidState,
    JdzhiError,
    NotInitialized,
)
from jdzhi.home import Home
from jdzhi.timeutil import format_time, utc_now

if TYPE_CHECKING:
    import sqlalchemy

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
    "in_memory",
    "initialize",
    "integrity_check",
    "migrate",
    "migrate_home",
    "open_registry",
    "open_store",
    "rows",
    "seed",
    "transaction",
]

ClockKind = Literal["real", "simulated"]
Dialect = Literal["sqlite", "postgresql"]

#: how long a writer waits for another process's write transaction before giving up
BUSY_TIMEOUT_SECONDS = 60.0
#: the PostgreSQL advisory lock that write transactions take: one writer at a time, as SQLite's
#: ``BEGIN IMMEDIATE`` (the audit log is one hash chain; every check-then-write stays sound)
WRITE_LOCK_KEY = 0x6A647A68  # "jdzh"
#: the oldest SQLite with ``RETURNING`` (3.35) and ``ON CONFLICT DO NOTHING`` (3.24)
MIN_SQLITE = (3, 35, 0)


class Cursor(Protocol):
    """What a statement gives back: the driver's own cursor (PEP 249), rows as tuples."""

    @property
    def description(self) -> Any: ...

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Database:
    """An open registry: one connection, SQLite or PostgreSQL, and what differs between them.

    ``home`` is the jdzhi home the registry belongs to (its key files), None for a registry in
    memory; ``file`` is the SQLite file, None in memory or on a server."""

    def __init__(self, connection: sqlalchemy.Connection, *, home: Home | None,
                 file: Path | None, location: str) -> None:
        self.core = connection
        name = connection.dialect.name
        if name not in ("sqlite", "postgresql"):
            raise InvalidState(f"jdzhi keeps its registry in SQLite or PostgreSQL, not {name}")
        self.dialect: Dialect = "sqlite" if name == "sqlite" else "postgresql"
        self.home = home
        self.file = file
        self.location = location
        self._driver: Any = connection.connection.driver_connection
        self._savepoints = 0
        if self.dialect == "sqlite":
            self.driver_error: type[Exception] = sqlite3.Error
        else:
            import psycopg

            self.driver_error = psycopg.Error

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement with ``?`` placeholders; its cursor."""
        if self.dialect == "sqlite":
            return self._driver.execute(sql, params)  # type: ignore[no-any-return]
        return self._driver.execute(_postgresql_sql(sql), params)  # type: ignore[no-any-return]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each of ``rows``."""
        if self.dialect == "sqlite":
            self._driver.executemany(sql, rows)
        else:
            self._driver.cursor().executemany(_postgresql_sql(sql), rows)

    @property
    def in_transaction(self) -> bool:
        if self.dialect == "sqlite":
            return bool(self._driver.in_transaction)
        from psycopg.pq import TransactionStatus

        return bool(self._driver.info.transaction_status != TransactionStatus.IDLE)

    def begin_write(self) -> None:
        """Start a write transaction that holds the registry's write lock until it ends."""
        if self.dialect == "sqlite":
            self._driver.execute("BEGIN IMMEDIATE")
        else:
            self._driver.execute("BEGIN")
            self._driver.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))

    def next_savepoint(self) -> str:
        self._savepoints += 1
        return f"jdzhi_{self._savepoints}"

    def has_table(self, name: str) -> bool:
        if self.dialect == "sqlite":
            query = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
        else:
            query = "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() " \
                    "AND tablename = ?"
        return bool(self.execute(query, [name]).fetchone()[0])

    def is_unique_violation(self, error: BaseException) -> bool:
        if self.dialect == "sqlite":
            return isinstance(error, sqlite3.IntegrityError) and "UNIQUE" in str(error)
        import psycopg.errors

        return isinstance(error, psycopg.errors.UniqueViolation)

    def translate(self, error: BaseException) -> JdzhiError:
        """A driver's error as jdzhi's: busy, unreadable, or an error of the database."""
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if self.dialect == "postgresql":
            import psycopg.errors

            if isinstance(error, psycopg.errors.LockNotAvailable | psycopg.errors.QueryCanceled):
                return Busy(f"the registry at {self.location} stayed locked: try again")
            return IntegrityError(f"registry database error: {text}")
        return _translate(error, self.location)

    def close(self) -> None:
        self.core.close()


@lru_cache(maxsize=4096)
def _postgresql_sql(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (``%`` doubled), string literals and quoted names
    left alone."""
    out: list[str] = []
    quote = ""
    for char in sql:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "?":
            out.append("%s")
            continue
        out.append("%%" if char == "%" else char)
    return "".join(out)


@lru_cache(maxsize=64)
def _engine(url: str) -> sqlalchemy.Engine:
    import sqlalchemy

    if url.startswith("sqlite"):
        return sqlalchemy.create_engine(
            url, poolclass=sqlalchemy.NullPool, isolation_level="AUTOCOMMIT",
            connect_args={"timeout": BUSY_TIMEOUT_SECONDS})
    # one connection per handle; every transaction is begun and ended by transaction()
    driver_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    return sqlalchemy.create_engine(driver_url, poolclass=sqlalchemy.NullPool,
                                    isolation_level="AUTOCOMMIT")


def connect(url: str, *, home: Home | None = None) -> Database:
    """Open the database at ``url`` (``sqlite:///PATH``, ``sqlite://`` in memory or
    ``postgresql://…``) without migrating it."""
    import sqlalchemy

    file = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    location = str(file) if file else sqlalchemy.make_url(url).render_as_string(
        hide_password=True) if not url.startswith("sqlite") else "(in memory)"
    try:
        connection = _engine(url).connect()
    except sqlalchemy.exc.DBAPIError as error:
        raise _translate(error.orig or error, location) from None
    db = Database(connection, home=home, file=file, location=location)
    try:
        if db.dialect == "sqlite":
            if sqlite3.sqlite_version_info < MIN_SQLITE:
                raise InvalidState(f"jdzhi needs SQLite 3.35 or newer; Python's is "
                                   f"{sqlite3.sqlite_version}")
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            if file is not None:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA foreign_keys = ON")
    except db.driver_error as error:
        db.close()
        raise db.translate(error) from None
    except BaseException:
        db.close()
        raise
    return db


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


def _translate(error: BaseException, path: str = "the registry") -> JdzhiError:
    text = str(error)
    if "locked" in text or "busy" in text:
        return Busy(
            f"the registry at {path} stayed locked by another process for more than "
            f"{BUSY_TIMEOUT_SECONDS:.0f} s; try again"
        )
    if "not a database" in text or "malformed" in text:
        return IntegrityError(f"the registry at {path} is not a readable SQLite database ({text})")
    return IntegrityError(f"registry database error: {text}")


def _open_file(home: Home) -> Database:
    return connect(f"sqlite:///{home.db_path}", home=home)


def open_registry(home: Home) -> Database:
    """Open the registry of ``home``, applying pending migrations; it must exist already.

    ``JDZHI_NOW`` would let anyone back-date signatures and registry changes, so only a home made
    on a simulated clock (by the test suite or ``jdzhi demo``) opens while it is set."""
    if not home.db_path.exists():
        raise NotInitialized(f"no registry at {home.path}: run `jdzhi init` first")
    return _migrated(_open_file(home))


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
    created = not home.db_path.exists()
    home.path.mkdir(parents=True, exist_ok=True)
    db = _open_file(home)
    try:
        applied = migrate(db)
        if _clock_of(db) is None:
            _record_clock(db, simulated=simulated_clock or bool(os.environ.get("JDZHI_NOW")))
        seed(db)
    finally:
        db.close()
    return InitResult(path=str(home.db_path), created=created, applied_migrations=applied)


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
    if not home.db_path.exists():
        raise NotInitialized(f"no registry at {home.path}: run `jdzhi init` first")
    db = _open_file(home)
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
    """SQLite's own integrity and foreign-key checks; an empty list means the file is sound.
    (A PostgreSQL server keeps its pages and foreign keys sound itself.)"""
    if db.dialect != "sqlite":
        return []
    problems = [row[0] for row in db.execute("PRAGMA integrity_check").fetchall()]
    problems = [p for p in problems if p != "ok"]
    problems += [
        f"foreign key broken in {row[0]} row {row[1]}"
        for row in db.execute("PRAGMA foreign_key_check").fetchall()
    ]
    return problems
