"""The checkpoints the authority signed of the registry's transparency log, kept in the database
(beside the copies in files next to the authority key, :mod:`jdzhi.trace.tlog.registry_log`).

Checkpoints are signed notes: they vouch for themselves, so the table is not audited (an audit
entry per checkpoint would grow the log it describes). ``registry audit`` checks the log against
the newest checkpoint through :func:`audit_problems`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jdzhi.registry.db import Database

__all__ = ["AUDITED_TABLES", "COMPONENT", "MIGRATIONS", "audit_problems"]

COMPONENT = "tlog"
AUDITED_TABLES: dict[str, str] = {}

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE log_checkpoints (
            size INTEGER PRIMARY KEY CHECK (size >= 0),
            root_hash BLOB NOT NULL CHECK (length(root_hash) = 32),
            note TEXT NOT NULL,
            signed_at TEXT NOT NULL
        )""",
    ),
)


def audit_problems(db: Database) -> list[str]:
    """Where the audit log departs from the newest checkpoint the authority signed of it."""
    from jdzhi.trace.tlog.registry_log import history_problems

    return history_problems(db)
