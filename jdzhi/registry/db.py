"""Opening the registry database, its schema migrations and its transactions.

Every component keeps its tables in one SQLite file (``registry.db`` in the home). A component is a
module with three names: ``COMPONENT`` (its name), ``MIGRATIONS`` (a tuple of versions, each a tuple
of SQL statements, applied in order and recorded in ``schema_migrations``) and ``AUDITED_TABLES``
(table name to primary-key column, for rows that the audit log must account for).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import sqlite_utils

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

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "ClockKind",
    "InitResult",
    "audited_tables",
    "components",
    "in_memory",
    "initialize",
    "integrity_check",
    "migrate",
    "open_registry",
    "open_store",
    "rows",
    "seed",
    "transaction",
]

ClockKind = Literal["real", "simulated"]

#: how long a writer waits for another process's write transaction before giving up
BUSY_TIMEOUT_SECONDS = 60.0

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


def _connect(path: str) -> sqlite_utils.Database:
    try:
        # isolation_level=None: no implicit transactions; every write goes through transaction()
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        db = sqlite_utils.Database(conn, execute_plugins=False)
    except sqlite3.DatabaseError as error:
        raise _translate(error, path) from None
    return db


def _translate(error: sqlite3.Error, path: str = "the registry") -> JdzhiError:
    text = str(error)
    if "locked" in text or "busy" in text:
        return Busy(
            f"the registry at {path} stayed locked by another process for more than "
            f"{BUSY_TIMEOUT_SECONDS:.0f} s; try again"
        )
    if "not a database" in text or "malformed" in text:
        return IntegrityError(f"the registry at {path} is not a readable SQLite database ({text})")
    return IntegrityError(f"registry database error: {text}")


def open_registry(home: Home) -> sqlite_utils.Database:
    """Open the registry of ``home``, applying pending migrations; it must exist already.

    ``JDZHI_NOW`` would let anyone back-date signatures and registry changes, so only a home made
    on a simulated clock (by the test suite or ``jdzhi demo``) opens while it is set."""
    if not home.db_path.exists():
        raise NotInitialized(f"no registry at {home.path}: run `jdzhi init` first")
    db = _connect(str(home.db_path))
    migrate(db)
    return _on_its_clock(db)


def open_store(path: Path, modules: Sequence[ModuleType]) -> sqlite_utils.Database:
    """Open a home's own database other than the registry (a workshop's store of what it
    signed), made on first use, as the registry is opened: WAL, busy timeout, the migrations of
    its component ``modules``, and the home's clock (made on a simulated clock when
    ``JDZHI_NOW`` is set then, refusing ``JDZHI_NOW`` later otherwise)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidInput(f"cannot make the jdzhi home {path.parent}: {error.strerror}") from None
    db = _connect(str(path))
    try:
        migrate(db, modules)
        if _clock_of(db) is None:
            _record_clock(db, simulated=bool(os.environ.get("JDZHI_NOW")))
    except BaseException:
        db.close()
        raise
    return _on_its_clock(db)


def _on_its_clock(db: sqlite_utils.Database) -> sqlite_utils.Database:
    """``db``, unless JDZHI_NOW is set and its home runs on the real clock (then closed)."""
    if os.environ.get("JDZHI_NOW") and _clock_of(db) != "simulated":
        db.close()
        raise JdzhiError(
            "JDZHI_NOW is set, but this home runs on the real clock: JDZHI_NOW moves the clock "
            "only in homes made with it (demos and tests); unset it",
            ExitCode.USAGE,
        )
    return db


def _record_clock(db: sqlite_utils.Database, *, simulated: bool) -> None:
    with transaction(db):
        db.execute("INSERT OR IGNORE INTO home_clock (id, kind, recorded_at) VALUES (1, ?, ?)",
                   ["simulated" if simulated else "real", format_time(utc_now())])


def initialize(home: Home, *, simulated_clock: bool = False) -> InitResult:
    """Create the home and its registry, or bring an existing one's schema up to date.

    A new home runs on the real clock unless it is made with ``JDZHI_NOW`` set or
    ``simulated_clock`` (a demo's home); that choice is made once, when the home is made."""
    created = not home.db_path.exists()
    home.path.mkdir(parents=True, exist_ok=True)
    db = _connect(str(home.db_path))
    try:
        applied = migrate(db)
        if _clock_of(db) is None:
            _record_clock(db, simulated=simulated_clock or bool(os.environ.get("JDZHI_NOW")))
        seed(db)
    finally:
        db.close()
    return InitResult(path=str(home.db_path), created=created, applied_migrations=applied)


def _clock_of(db: sqlite_utils.Database) -> ClockKind | None:
    """The clock a home was made on; None before `jdzhi init` finished making it."""
    row = db.execute("SELECT kind FROM home_clock WHERE id = 1").fetchone()
    if row is None:
        return None
    return "simulated" if row[0] == "simulated" else "real"


def seed(db: sqlite_utils.Database) -> None:
    """Run each component's optional ``seed(db)`` hook (built-in rows, written with audit
    entries); hooks insert only what is missing, so running them again changes nothing."""
    for module in components():
        hook = getattr(module, "seed", None)
        if hook is not None:
            hook(db)


def in_memory() -> sqlite_utils.Database:
    """A migrated registry in memory, for tests and dry runs."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    db = sqlite_utils.Database(conn, execute_plugins=False)
    migrate(db)
    return db


def migrate(db: sqlite_utils.Database,
            modules: Sequence[ModuleType] | None = None) -> tuple[str, ...]:
    """Apply every migration that the database lacks, each version in its own transaction, of
    the registry's components or else of ``modules`` (:func:`open_store`)."""
    applied: list[str] = []
    try:
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, "
            "version INTEGER NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (component, version))"
        )
        if not db["home_clock"].exists():
            # which clock the home runs on (see initialize); a home made before this table existed
            # has history, and was made on the real clock
            with transaction(db):
                db.execute(
                    "CREATE TABLE IF NOT EXISTS home_clock (id INTEGER PRIMARY KEY CHECK (id = 1), "
                    "kind TEXT NOT NULL CHECK (kind IN ('real', 'simulated')), "
                    "recorded_at TEXT NOT NULL)")
                if db["schema_migrations"].count:
                    db.execute("INSERT OR IGNORE INTO home_clock VALUES (1, 'real', ?)",
                               [format_time(utc_now())])
        for module in components() if modules is None else modules:
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
    except sqlite3.Error as error:
        raise _translate(error) from None
    return tuple(applied)


def _schema_version(db: sqlite_utils.Database, component: str) -> int:
    row = db.execute(
        "SELECT MAX(version) FROM schema_migrations WHERE component = ?", [component]
    ).fetchone()
    return int(row[0] or 0)


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One all-or-nothing write transaction.

    ``BEGIN IMMEDIATE`` takes the write lock up front, so that two writers queue on the busy timeout
    instead of one failing when it upgrades a read lock. sqlite-utils' own writes nest inside as
    savepoints. Any exception rolls everything back.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    try:
        db.conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as error:
        raise _translate(error) from None
    try:
        yield db
    except BaseException as error:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        if isinstance(error, sqlite3.IntegrityError) and "UNIQUE" in str(error):
            # another process wrote the same key between our checks and our insert
            raise Conflict(
                f"a concurrent change got there first ({error}); nothing was written"
            ) from None
        raise
    try:
        db.conn.execute("COMMIT")
    except sqlite3.Error as error:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise _translate(error) from None


def rows(db: sqlite_utils.Database, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Run a query and return its rows as dicts."""
    cursor = db.execute(sql, list(params))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def integrity_check(db: sqlite_utils.Database) -> list[str]:
    """SQLite's own integrity and foreign-key checks; an empty list means the file is sound."""
    problems = [row[0] for row in db.execute("PRAGMA integrity_check").fetchall()]
    problems = [p for p in problems if p != "ok"]
    problems += [
        f"foreign key broken in {row[0]} row {row[1]}"
        for row in db.execute("PRAGMA foreign_key_check").fetchall()
    ]
    return problems
