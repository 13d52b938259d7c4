"""Schema migrations with Alembic (jdzhi.registry.migrations, `jdzhi db migrate`): a home made
before Alembic migrates without loss, a new database gets the same schema on SQLite and
PostgreSQL, migrating twice changes nothing, and a newer schema is refused."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke

from jdzhi.errors import ExitCode, InvalidState
from jdzhi.home import Home
from jdzhi.registry import migrations
from jdzhi.registry._postgresql_schema import postgresql_schema
from jdzhi.registry.db import Database, connect, migrate, transaction
from jdzhi.registry.migrations.versions._0001_baseline import POSTGRESQL_SCHEMA

OLD_HOME = Path(__file__).parent / "fixtures" / "home-79e4c4d"
#: the revisions after the baseline
AFTER_BASELINE = ("0002", "0003")


def _old_home(home: Home) -> None:
    """The home made by jdzhi at 79e4c4d (tests/fixtures/README.md), copied to ``home``."""
    shutil.copytree(OLD_HOME, home.path)


def _sqlite_tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, in a fixed order."""
    with sqlite3.connect(path) as conn:
        names = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {name: sorted(conn.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
                for name in names}


def _sqlite_schema(path: Path) -> set[tuple[str, str, str]]:
    with sqlite3.connect(path) as conn:
        return set(conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"))


def _revision(db: Database) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in db.execute("SELECT version_num FROM alembic_version")]


def test_head_is_the_newest_script() -> None:
    script = migrations.script_directory()
    assert script.get_current_head() == migrations.HEAD
    assert script.get_revision(migrations.BASELINE).down_revision is None


def test_the_frozen_postgresql_baseline_is_the_translation_of_the_sqlite_baseline() -> None:
    """A change to the SQLite schema or its translation must come as a new revision, not as a
    silent change of revision 0001 on PostgreSQL."""
    from alembic import command

    db = connect("sqlite://")
    try:
        with transaction(db):
            db.core.begin()
            command.upgrade(migrations.alembic_config(db.core), migrations.BASELINE)
        db.core.rollback()
        statements = [row[0] for row in db.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name != 'alembic_version' "
            "ORDER BY rowid")]
        assert _revision(db) == [(migrations.BASELINE,)]
    finally:
        db.close()
    assert list(POSTGRESQL_SCHEMA) == postgresql_schema(statements)


def test_a_home_made_before_alembic_migrates_without_loss(
        cli: Invoke, jdzhi_home: Home) -> None:
    _old_home(jdzhi_home)
    before = _sqlite_tables(jdzhi_home.db_path)
    schema_before = _sqlite_schema(jdzhi_home.db_path)
    assert "alembic_version" not in before and before["signed_records"] and before["scans"]

    result = cli("db", "migrate", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "database": "sqlite", "location": str(jdzhi_home.db_path), "previous_revision": None,
        "component_migrations": [], "stamped": "0001", "applied": list(AFTER_BASELINE),
        "revision": migrations.HEAD}
    after = _sqlite_tables(jdzhi_home.db_path)
    assert after.pop("alembic_version") == [(migrations.HEAD,)]
    assert after == before
    assert _sqlite_schema(jdzhi_home.db_path) - schema_before == {
        ("table", "alembic_version",
         "CREATE TABLE alembic_version (\n\tversion_num VARCHAR(32) NOT NULL, \n\t"
         "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n)")}

    audit = cli("registry", "audit", "--json")
    assert audit.exit_code == 0, audit.output
    assert json.loads(audit.stdout)["entries"] == len(before["audit_log"])

    again = cli("db", "migrate")
    assert again.exit_code == 0, again.output
    assert again.stderr.strip() == "Nothing to apply."
    assert again.stdout.strip() == (
        f"The sqlite registry at {jdzhi_home.db_path} is at revision {migrations.HEAD}.")
    assert _sqlite_tables(jdzhi_home.db_path) == {**before,
                                                  "alembic_version": [(migrations.HEAD,)]}


def test_an_old_home_gets_its_missing_component_versions_then_the_stamp(
        cli: Invoke, jdzhi_home: Home) -> None:
    _old_home(jdzhi_home)
    with sqlite3.connect(jdzhi_home.db_path) as conn:  # a home of a jdzhi before the clock rule
        conn.execute("DROP TABLE home_clock")
    result = cli("db", "migrate", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stamped"] == "0001"
    with sqlite3.connect(jdzhi_home.db_path) as conn:
        assert conn.execute("SELECT kind FROM home_clock").fetchall() == [("real",)]


def test_a_new_home_has_the_schema_an_old_home_migrates_to(
        cli: Invoke, jdzhi_home: Home, initialized: Home, tmp_path: Path) -> None:
    old = Home(tmp_path / "old")
    _old_home(old)
    db = connect(f"sqlite:///{old.db_path}", home=old)
    try:
        migrate(db)
    finally:
        db.close()
    assert _sqlite_schema(initialized.db_path) == _sqlite_schema(old.db_path)
    versions = "SELECT component, version FROM schema_migrations ORDER BY 1, 2"
    with sqlite3.connect(initialized.db_path) as new, sqlite3.connect(old.db_path) as made:
        assert new.execute(versions).fetchall() == made.execute(versions).fetchall()


def test_a_schema_newer_than_this_jdzhi_is_refused(cli: Invoke, initialized: Home) -> None:
    with sqlite3.connect(initialized.db_path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    before = _sqlite_tables(initialized.db_path)
    for command in (("db", "migrate"), ("registry", "list")):
        result = cli(*command)
        assert result.exit_code == ExitCode.INVALID_STATE
        assert result.stderr.strip() == (
            "error: the registry's schema is at revision 9999, newer than this jdzhi knows "
            f"({migrations.HEAD}): upgrade jdzhi")
    assert _sqlite_tables(initialized.db_path) == before


def test_db_migrate_needs_a_home(cli: Invoke) -> None:
    result = cli("db", "migrate")
    assert result.exit_code == ExitCode.NOT_INITIALIZED


def test_a_new_database_migrates_once(database_url: str) -> None:
    db = connect(database_url)
    try:
        assert migrate(db, explicit=True) == ("0001", *AFTER_BASELINE)
        tables = _tables_and_columns(db)
        assert migrate(db, explicit=True) == ()
        assert _tables_and_columns(db) == tables
        assert _revision(db) == [(migrations.HEAD,)]
        assert not db.in_transaction and not db.core.in_transaction()
    finally:
        db.close()


def _tables_and_columns(db: Database) -> dict[str, list[str]]:
    if db.dialect == "sqlite":
        names = [row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: [row[1] for row in db.execute(f'PRAGMA table_info("{name}")')]
                for name in names}
    found: dict[str, list[str]] = {}
    for table, column in db.execute(  # a partition's rows are its table's (revisions 0002, 0003)
            "SELECT table_name, column_name FROM information_schema.columns "
            "JOIN pg_class ON relname = table_name "
            "AND relnamespace = current_schema()::regnamespace "
            "WHERE table_schema = current_schema() AND NOT relispartition "
            "ORDER BY table_name, ordinal_position"):
        found.setdefault(table, []).append(column)
    return found


def test_postgresql_at_head_has_sqlite_s_tables_and_columns(
        postgres_url: str, tmp_path: Path) -> None:
    databases = [connect(postgres_url), connect(f"sqlite:///{tmp_path / 'registry.db'}")]
    try:
        for db in databases:
            migrate(db)
        postgresql, sqlite = (_tables_and_columns(db) for db in databases)
        versions = [db.execute("SELECT component, version FROM schema_migrations "
                               "ORDER BY component, version").fetchall() for db in databases]
    finally:
        for db in databases:
            db.close()
    assert postgresql == sqlite
    assert versions[0] == versions[1] and len(versions[0]) >= len(sqlite) // 3


def test_postgresql_is_migrated_only_when_asked(postgres_url: str) -> None:
    db = connect(postgres_url)
    try:
        migrate(db)
        with transaction(db):  # as a database made before Alembic
            db.execute("DROP TABLE alembic_version")
        with pytest.raises(InvalidState, match=r"run `jdzhi db migrate` first"):
            migrate(db)
        assert not db.has_table("alembic_version")
        # stamped at the baseline, then the later revisions, which find their work done
        assert migrate(db, explicit=True) == AFTER_BASELINE
        assert _revision(db) == [(migrations.HEAD,)]
        assert migrate(db) == ()
    finally:
        db.close()


def test_writers_that_migrate_at_once_take_turns(database_url: str) -> None:
    errors: list[BaseException] = []
    applied: list[tuple[str, ...]] = []

    def run() -> None:
        try:
            db = connect(database_url)
            try:
                applied.append(migrate(db, explicit=True))
            finally:
                db.close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(applied) == [(), (), ("0001", *AFTER_BASELINE)]
