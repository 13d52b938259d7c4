"""The connection to the registry's database: :class:`Database`, the one place where SQL dialects
differ, and :func:`connect`. (``jdzhi.registry.db`` is its public home: import from there.)

SQLAlchemy Core opens the connection (URL, dialect, driver); statements go straight to the
driver's connection under it, because SQLAlchemy's own execution costs 20-90 µs a statement, three
times what SQLite takes for the server's scan statements (``benchmarks/db_overhead.py``). Modules
write ``?`` placeholders and dialect-neutral SQL (``ON CONFLICT DO NOTHING``, ``RETURNING id``);
for PostgreSQL (psycopg 3) :class:`Database` translates the placeholders once per statement text.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from jdzhi.errors import Busy, IntegrityError, InvalidInput, InvalidState, JdzhiError, Unreachable
from jdzhi.home import Home

if TYPE_CHECKING:
    import sqlalchemy

__all__ = ["BUSY_TIMEOUT_SECONDS", "Cursor", "Database", "Dialect", "connect", "dialect_of"]

Dialect = Literal["sqlite", "postgresql"]

#: how long a writer waits for another process's write transaction before giving up
BUSY_TIMEOUT_SECONDS = 60.0
#: the PostgreSQL advisory lock that write transactions take: one writer at a time, as SQLite's
#: ``BEGIN IMMEDIATE`` (the audit log is one hash chain; every check-then-write stays sound).
#: Scans take it shared, with a lock of each serial they store (see :meth:`Database.begin_scans`)
WRITE_LOCK_KEY = 0x6A647A68  # "jdzh"
#: how long connecting to a PostgreSQL server may take (unless the URL says connect_timeout=…)
CONNECT_TIMEOUT_SECONDS = 10
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

    def fetchmany(self, size: int) -> list[Any]: ...

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

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each of ``rows``."""
        if self.dialect == "sqlite":
            self._driver.executemany(sql, rows)
        else:
            self._driver.cursor().executemany(_postgresql_sql(sql), rows)

    def copy_in(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Insert ``rows`` (values of ``columns``, in order) into ``table`` the fastest way the
        database has: PostgreSQL's ``COPY FROM STDIN``, SQLite's ``executemany``."""
        names = ", ".join(f'"{name}"' for name in columns)
        if self.dialect == "sqlite":
            marks = ", ".join("?" * len(columns))
            self._driver.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)
            return
        with self._driver.cursor().copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)

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

    def set_lock_wait(self, seconds: float) -> None:
        """How long a write transaction of this connection waits for another's lock before it
        is refused as :class:`~jdzhi.errors.Busy`: SQLite's busy timeout
        (:data:`BUSY_TIMEOUT_SECONDS` when opened), PostgreSQL's ``lock_timeout`` (no limit when
        opened; 0 there would mean none, so it is at least a millisecond)."""
        if self.dialect == "sqlite":
            self._driver.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
        else:
            self._driver.execute(f"SET lock_timeout = {max(1, int(seconds * 1000))}")

    def begin_scans(self, serials: Iterable[tuple[int, str]]) -> None:
        """Start a transaction that stores scans of these serials (enterprise id, serial).

        On PostgreSQL scans of other serials go on at the same time, from any server: the
        transaction holds the write lock shared (other writers, and detaching a month, wait for
        it) and a lock of each serial, so that scans of one serial take turns and each sees the
        ones before it. The serials are locked in one order, so two batches never wait for each
        other. SQLite has one writer: it is :meth:`begin_write`."""
        if self.dialect == "sqlite":
            self.begin_write()
            return
        self._driver.execute("BEGIN")
        self._driver.execute("SELECT pg_advisory_xact_lock_shared(%s)", (WRITE_LOCK_KEY,))
        keys = sorted({(enterprise_id % 2**31, _serial_lock(serial))
                       for enterprise_id, serial in serials})
        if keys:  # one statement; unnest keeps the arrays' order, the order of the locks
            self._driver.execute(
                "SELECT count(pg_advisory_xact_lock(e, s)) FROM unnest(%s::int4[], %s::int4[]) "
                "AS serial_locks(e, s)", ([e for e, _ in keys], [s for _, s in keys]))

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
def _serial_lock(serial: str) -> int:
    """A serial's advisory lock key (with its enterprise id), a signed 32-bit number: two
    serials that share one only take turns."""
    return int.from_bytes(hashlib.blake2b(serial.encode(), digest_size=4).digest(), "big",
                          signed=True)


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

    parsed = _database_url(url)
    if parsed.get_backend_name() == "sqlite":
        return sqlalchemy.create_engine(
            parsed, poolclass=sqlalchemy.NullPool, isolation_level="AUTOCOMMIT",
            connect_args={"timeout": BUSY_TIMEOUT_SECONDS})
    # one connection per handle; every transaction is begun and ended by transaction()
    connect_args = {} if "connect_timeout" in parsed.query else {
        "connect_timeout": CONNECT_TIMEOUT_SECONDS}
    return sqlalchemy.create_engine(parsed.set(drivername="postgresql+psycopg"),
                                    poolclass=sqlalchemy.NullPool, isolation_level="AUTOCOMMIT",
                                    connect_args=connect_args)


def _database_url(url: str) -> sqlalchemy.URL:
    """``url`` parsed; a malformed URL or another database than SQLite or PostgreSQL is refused
    without echoing the URL (it may hold a password)."""
    import sqlalchemy

    try:
        parsed = sqlalchemy.make_url(url)
    except (sqlalchemy.exc.ArgumentError, ValueError):
        raise InvalidInput("the database URL is malformed: expected postgresql://USER:PASSWORD@"
                           "HOST:PORT/DATABASE (or sqlite:///PATH)") from None
    if parsed.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg"):
        raise InvalidInput(f"jdzhi keeps its registry in PostgreSQL or SQLite, not "
                           f"{parsed.drivername}: the database URL starts postgresql://")
    if parsed.get_backend_name() == "postgresql" and not parsed.database:
        raise InvalidInput("the database URL names no database: postgresql://USER:PASSWORD@"
                           "HOST:PORT/DATABASE")
    return parsed


def dialect_of(url: str) -> Dialect:
    """The kind of database ``url`` names, without connecting (:func:`connect`'s URL checks)."""
    return "sqlite" if _database_url(url).get_backend_name() == "sqlite" else "postgresql"


def connect(url: str, *, home: Home | None = None) -> Database:
    """Open the database at ``url`` (``sqlite:///PATH``, ``sqlite://`` in memory or
    ``postgresql://…``) without migrating it. A malformed URL or another database is
    :class:`InvalidInput`; a server that cannot be reached or refuses the login is
    :class:`Unreachable`, its reason without the password."""
    import sqlalchemy

    parsed = _database_url(url)
    file = Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database \
        else None
    location = str(file) if file else "(in memory)" if parsed.get_backend_name() == "sqlite" \
        else parsed.render_as_string(hide_password=True)
    try:
        connection = _engine(url).connect()
    except sqlalchemy.exc.DBAPIError as error:
        if parsed.get_backend_name() == "sqlite":
            raise _translate(error.orig or error, location) from None
        reason = " ".join(str(error.orig or error).split())
        if parsed.password:
            reason = reason.replace(parsed.password, "***")
        raise Unreachable(f"cannot connect to the registry database at {location}: "
                          f"{reason}") from None
    db = Database(connection, home=home, file=file, location=location)
    try:
        if db.dialect == "sqlite":
            if sqlite3.sqlite_version_info < MIN_SQLITE:
                raise InvalidState(f"jdzhi needs SQLite 3.35 or newer; Python's is "
                                   f"{sqlite3.sqlite_version}")
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            if file is not None:
                _write_ahead_log(db)
                db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA foreign_keys = ON")
    except db.driver_error as error:
        db.close()
        raise db.translate(error) from None
    except BaseException:
        db.close()
        raise
    return db


def _write_ahead_log(db: Database) -> None:
    """Put the SQLite file in WAL mode (a no-op once it is). Switching needs the file alone for
    a moment: processes opening a new file at once hold each other off, which SQLite reports at
    once rather than waiting (its busy handler could deadlock), so it is tried again until the
    busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


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

