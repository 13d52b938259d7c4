"""Revision 0003: the page's clients by month on PostgreSQL.

``page_scan_clients`` (one row per serial, UTC day and client of the page's anonymous scans, for
their clone warnings) grows with the page scans, so it is partitioned by month too, like the scan
logs (revision 0002): by the month of ``day``, which its primary key holds already, so that a
client still counts once a serial and day. `jdzhi db detach-scans` takes its old months out with
the logs' (:mod:`jdzhi.trace.scanning.months`). The rows are moved as they are; the table is made
by revision 0001's frozen statement, partitioned. SQLite is unchanged (one table).
"""

from __future__ import annotations

from alembic import op

from jdzhi.registry.migrations import _components
from jdzhi.registry.migrations.versions._0002_scan_logs_by_month import (
    baseline_table,
    is_partitioned,
    month_partitions,
)

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLE = "page_scan_clients"


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "sqlite" or is_partitioned(connection, TABLE):
        return  # partitioned already: a database stamped at 0001 again
    old = f"{TABLE}_unpartitioned"
    for statement in (
        f"ALTER TABLE {TABLE} RENAME TO {old}",
        f"ALTER INDEX {TABLE}_pkey RENAME TO {old}_pkey",
        f"{baseline_table(TABLE)} PARTITION BY RANGE (day)",
    ):
        _components.run_statement(connection, statement)
    month_partitions(connection, TABLE, old, "day")
    for statement in (f"INSERT INTO {TABLE} SELECT * FROM {old}",  # the same columns, in order
                      f"DROP TABLE {old}"):
        _components.run_statement(connection, statement)
