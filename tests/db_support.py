"""The home's database behind jdzhi's back, on either backend: to count rows or to tamper with
them as someone with access to the database (not through jdzhi) could."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from jdzhi.home import Home
from jdzhi.registry.db import Database, connect


@contextmanager
def raw_database(home: Home) -> Iterator[Database]:
    """The home's registry without migrations or transactions: every statement commits alone."""
    db = connect(home.database_url or f"sqlite:///{home.db_path}")
    try:
        yield db
    finally:
        db.close()


def drop_trigger(db: Database, name: str, table: str) -> None:
    """Remove an append-only trigger, as an attacker with the database's owner rights could."""
    db.execute(f"DROP TRIGGER {name}" + (f" ON {table}" if db.dialect == "postgresql" else ""))


def count_rows(home: Home, table: str) -> int:
    with raw_database(home) as db:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def temporary_tables(db: Database) -> int:
    """How many temporary tables the connection holds."""
    query = ("SELECT COUNT(*) FROM temp.sqlite_master" if db.dialect == "sqlite" else
             "SELECT COUNT(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()")
    return int(db.execute(query).fetchone()[0])
