"""The home's database behind jdzhi's back, on either backend: to count rows or to tamper with
them as someone with access to the database (not through jdzhi) could."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from benchmarks.run import fresh_database
from jdzhi.home import Home
from jdzhi.registry.db import Database, connect, migrate, transaction


@contextmanager
def raw_database(home: Home) -> Iterator[Database]:
    """The home's registry without migrations or transactions: every statement commits alone."""
    db = connect(home.database_url or f"sqlite:///{home.db_path}")
    try:
        yield db
    finally:
        db.close()


@contextmanager
def database_copy(home: Home) -> Iterator[str]:
    """A new database of the test cluster holding a copy of the PostgreSQL registry of ``home``
    (no one may be connected to it), its URL; dropped afterwards."""
    import sqlalchemy

    assert home.database_url, "a home on SQLite is copied with its folder"
    name = sqlalchemy.make_url(home.database_url).database
    with fresh_database(os.environ["JDZHI_TEST_DATABASE_URL"], "jdzhi_test", copy_of=name) as url:
        yield url


def drop_trigger(db: Database, name: str, table: str) -> None:
    """Remove an append-only trigger, as an attacker with the database's owner rights could."""
    db.execute(f"DROP TRIGGER {name}" + (f" ON {table}" if db.dialect == "postgresql" else ""))


def count_rows(home: Home, table: str) -> int:
    with raw_database(home) as db:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def has_registry(home: Home) -> bool:
    """Whether the home's registry was made: its SQLite file, or tables in its PostgreSQL
    database."""
    if home.database_url is None:
        return home.db_path.exists()
    with raw_database(home) as db:
        return bool(db.execute("SELECT count(*) FROM pg_tables "
                               "WHERE schemaname = current_schema()").fetchone()[0])


def temporary_tables(db: Database) -> int:
    """How many temporary tables the connection holds."""
    query = ("SELECT COUNT(*) FROM temp.sqlite_master" if db.dialect == "sqlite" else
             "SELECT COUNT(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()")
    return int(db.execute(query).fetchone()[0])


def copy_registry(source: Home, target: Home) -> None:
    """Copy the registry of ``source`` (either backend) into a new SQLite file in ``target``,
    in one read transaction of the source (a consistent copy while it is in use)."""
    copy = connect(f"sqlite:///{target.db_path}", home=target)
    try:
        migrate(copy)
        tables = [row[0] for row in copy.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'schema_migrations'"
            " ORDER BY rowid")]
        with raw_database(source) as origin, transaction(copy):
            origin.execute("BEGIN")
            if origin.dialect == "postgresql":
                origin.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            for table in tables:
                rows = [tuple(row) for row in origin.execute(f'SELECT * FROM "{table}"')]
                copy.execute(f'DELETE FROM "{table}"')
                if rows:
                    marks = ", ".join("?" * len(rows[0]))
                    copy.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)
            origin.execute("ROLLBACK")
    finally:
        copy.close()
