"""The components' own migrations (``MIGRATIONS`` in each module of :mod:`jdzhi.components`),
frozen since Alembic took over: revision 0001 applies them to a new SQLite database, and a home
made before Alembic gets the versions it lacks before it is stamped at 0001."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING

from jdzhi.components import COMPONENT_MODULES
from jdzhi.errors import InvalidState
from jdzhi.timeutil import format_time, utc_now

if TYPE_CHECKING:
    import sqlalchemy


def run_statement(connection: sqlalchemy.Connection, statement: str) -> None:
    """Run one schema statement as it is written: on the driver's connection, so that neither
    SQLAlchemy nor psycopg reads ``:name`` or ``%`` in it as a placeholder."""
    connection.connection.driver_connection.execute(statement)  # type: ignore[union-attr]


def latest_versions(modules: Sequence[ModuleType] | None = None
                    ) -> dict[str, Sequence[Sequence[str]]]:
    """Each component's migrations (the registry's, or those of ``modules``), by component
    name, in the order they run."""
    if modules is None:
        modules = [import_module(name) for name in COMPONENT_MODULES]
    return {module.COMPONENT: module.MIGRATIONS for module in modules}


def has_component_schema(connection: sqlalchemy.Connection) -> bool:
    """Whether the database holds a schema made by the components' migrations."""
    import sqlalchemy

    return sqlalchemy.inspect(connection).has_table("schema_migrations")


def _versions(connection: sqlalchemy.Connection) -> dict[str, int]:
    return {str(name): int(version) for name, version in connection.exec_driver_sql(
        "SELECT component, MAX(version) FROM schema_migrations GROUP BY component")}


def apply_missing(connection: sqlalchemy.Connection,
                  modules: Sequence[ModuleType] | None = None) -> tuple[str, ...]:
    """Apply every component version the database lacks (SQLite; a PostgreSQL schema was made
    whole) and record it in ``schema_migrations``; the versions applied, as ``name:version``."""
    import sqlalchemy

    sqlite = connection.dialect.name == "sqlite"
    run_statement(
        connection,
        "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, "
        "version INTEGER NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (component, version))")
    now = format_time(utc_now())
    if not sqlalchemy.inspect(connection).has_table("home_clock"):
        # which clock the home runs on (registry.db.initialize); a home made before this table
        # existed has history, and was made on the real clock
        run_statement(
            connection,
            "CREATE TABLE IF NOT EXISTS home_clock (id INTEGER PRIMARY KEY CHECK (id = 1), "
            "kind TEXT NOT NULL CHECK (kind IN ('real', 'simulated')), "
            "recorded_at TEXT NOT NULL)")
        if _versions(connection):
            connection.execute(sqlalchemy.text(
                "INSERT INTO home_clock VALUES (1, 'real', :now)"), {"now": now})
    current = _versions(connection)
    applied: list[str] = []
    for name, migrations in latest_versions(modules).items():
        version = current.get(name, 0)
        if version > len(migrations):
            raise InvalidState(
                f"the registry's {name} schema is version {version}, newer than this jdzhi "
                f"knows ({len(migrations)}): upgrade jdzhi")
        if version < len(migrations) and not sqlite:
            raise InvalidState(
                f"the registry's {name} schema is version {version} of {len(migrations)}: "
                "only a SQLite registry has component migrations; make this one anew")
        for number in range(version + 1, len(migrations) + 1):
            for statement in migrations[number - 1]:
                run_statement(connection, statement)
            connection.execute(sqlalchemy.text(
                "INSERT INTO schema_migrations VALUES (:name, :version, :now)"),
                {"name": name, "version": number, "now": now})
            applied.append(f"{name}:{number}")
    return tuple(applied)


def record_all(connection: sqlalchemy.Connection) -> None:
    """Record every component version as applied (a PostgreSQL baseline made the schema whole)."""
    import sqlalchemy

    now = format_time(utc_now())
    connection.execute(
        sqlalchemy.text("INSERT INTO schema_migrations VALUES (:name, :version, :now)"),
        [{"name": name, "version": number, "now": now}
         for name, migrations in latest_versions().items()
         for number in range(1, len(migrations) + 1)])
