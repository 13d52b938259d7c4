"""The table of item recalls (a component of the home's database, :mod:`jdzhi.components`).

A serial recall stores its serial ranges as text (``12,13-20``); a batch recall stores the batch
name alone, and is resolved to the batch's signed serials whenever trust is read, so that pieces
signed into the batch later are recalled too.
"""

from __future__ import annotations

__all__ = ["AUDITED_TABLES", "COMPONENT", "MIGRATIONS"]

COMPONENT = "recalls"

AUDITED_TABLES: dict[str, str] = {"item_recalls": "id"}

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE item_recalls (
            id INTEGER PRIMARY KEY,
            enterprise_id INTEGER NOT NULL REFERENCES enterprises (id),
            serials TEXT,
            batch TEXT,
            reason TEXT NOT NULL CHECK (reason <> ''),
            effective_at TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            CHECK ((serials IS NULL) <> (batch IS NULL))
        )""",
        "CREATE INDEX item_recalls_enterprise ON item_recalls (enterprise_id)",
    ),
)
