"""Revision 0002: the scan logs by month on PostgreSQL (issue #17).

``scans`` and ``page_scans`` become tables partitioned by the month of ``scanned_at``: a
partition a month (``scans_2026_03``) and a default one, so that an old month leaves the live
log whole (`jdzhi db detach-scans`, :mod:`jdzhi.trace.scanning.months`) instead of by row.
The rows are moved with their ids; the identity, the serial index of the clone queries and the
append-only triggers are made on the partitioned tables, which give them to every partition.
A partitioned table's primary key holds its partition key: ``(id, scanned_at)`` (the identity
keeps ids unique). SQLite is unchanged: its log has the same indexes and one table each.

The columns are those revision 0001 made, read from its frozen statements (a later revision
builds on them the same way: 0003).
"""

from __future__ import annotations

import re

import sqlalchemy
from alembic import op

from jdzhi.registry.migrations import _components
from jdzhi.registry.migrations.versions._0001_baseline import POSTGRESQL_SCHEMA

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: each log's serial index (of the clone queries) and its triggers' message
LOGS = {"scans": ("scans_enterprise_serial", "the scan log is append-only"),
        "page_scans": ("page_scans_serial", "the page scan log is append-only")}

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        return
    for table, (index, message) in LOGS.items():
        if not is_partitioned(connection, table):  # else: a database stamped at 0001 again
            _partition(connection, table, index, message)


def is_partitioned(connection: sqlalchemy.Connection, table: str) -> bool:
    (kind,) = connection.exec_driver_sql(
        f"SELECT relkind FROM pg_class WHERE oid = '{table}'::regclass").one()
    return bool(kind == "p")


def baseline_table(table: str) -> str:
    """The statement of revision 0001 that made ``table`` (its columns are the table's still)."""
    (statement,) = (statement for statement in POSTGRESQL_SCHEMA
                    if statement.startswith(f"CREATE TABLE {table} ("))
    return statement


def _columns(table: str) -> list[str]:
    """The column definitions of ``table`` as revision 0001 made them, in order, without its
    primary key (a partitioned table's holds the partition key)."""
    statement = baseline_table(table)
    body = statement[statement.index("(") + 1:statement.rindex(")")]
    assert "(" not in body, table  # one definition between two commas
    return [" ".join(column.split()).removesuffix(" PRIMARY KEY") for column in body.split(",")]


def month_partitions(connection: sqlalchemy.Connection, table: str, source: str,
                     column: str) -> None:
    """The default partition of ``table`` and one for each month (YYYY-MM) that ``column`` of
    the table ``source`` starts with."""
    _components.run_statement(connection,
                              f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    months = sorted(month for (month,) in connection.exec_driver_sql(
        f"SELECT DISTINCT substr({column}, 1, 7) FROM {source}") if _MONTH.match(month))
    for month in months:
        year, number = int(month[:4]), int(month[5:])
        end = f"{year + 1:04d}-01" if number == 12 else f"{year:04d}-{number + 1:02d}"
        _components.run_statement(
            connection, f"CREATE TABLE {table}_{month.replace('-', '_')} PARTITION OF {table} "
                        f"FOR VALUES FROM ('{month}') TO ('{end}')")


def _partition(connection: sqlalchemy.Connection, table: str, index: str, message: str) -> None:
    old = f"{table}_unpartitioned"
    columns = _columns(table)
    for statement in (
        f"ALTER TABLE {table} RENAME TO {old}",
        f"ALTER INDEX {table}_pkey RENAME TO {old}_pkey",
        f"ALTER SEQUENCE {table}_id_seq RENAME TO {old}_id_seq",
        f"ALTER INDEX {index} RENAME TO {old}_serial",
        f"CREATE TABLE {table} ({', '.join(columns)}, PRIMARY KEY (id, scanned_at)) "
        "PARTITION BY RANGE (scanned_at)",
    ):
        _components.run_statement(connection, statement)
    month_partitions(connection, table, old, "scanned_at")
    names = ", ".join(column.split()[0] for column in columns)
    for statement in (
        f"INSERT INTO {table} ({names}) SELECT {names} FROM {old}",
        f"DROP TABLE {old}",
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
        f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)",
        f"CREATE INDEX {index} ON {table} (enterprise_id, serial, scanned_at)",
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} FOR EACH ROW "
        f"EXECUTE FUNCTION jdzhi_refuse('{message}')",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} FOR EACH ROW "
        f"EXECUTE FUNCTION jdzhi_refuse('{message}')",
    ):
        _components.run_statement(connection, statement)
