"""A workshop's store of what it signed: ``workshop.db`` in a home that has no registry.

A workshop signs at its kiln against the service center's trust bundle (``jdzhi sign --trust``).
What the registry's ``signed_records`` table does for the center, this file does for the
workshop: serials unique for the enterprise, and a re-run of an interrupted command writing the
stored records out again. Its ``signed_records`` table has the registry's columns (the signing
code reads and writes both alike); each run is one row of ``signing_runs`` (the registry's audit
entry ``records.sign`` says the same). It is opened as the registry is
(:func:`jdzhi.registry.db.open_store`: WAL, busy timeout, migrations, the home's clock).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jdzhi.home import Home
    from jdzhi.registry.db import Database

WORKSHOP_FILE = "workshop.db"

COMPONENT = "workshop"
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE signed_records (
            id INTEGER PRIMARY KEY,
            enterprise_id INTEGER NOT NULL,
            serial TEXT NOT NULL,
            key_id INTEGER NOT NULL,
            batch TEXT NOT NULL,
            category_code TEXT NOT NULL,
            production_date TEXT NOT NULL,
            signed_at TEXT NOT NULL,
            record BLOB NOT NULL,
            label TEXT NOT NULL,
            UNIQUE (enterprise_id, serial)
        )""",
        "CREATE INDEX signed_records_batch ON signed_records (enterprise_id, batch)",
        # one row per signing run that stored new records, committed with them
        """CREATE TABLE signing_runs (
            id INTEGER PRIMARY KEY,
            enterprise_id INTEGER NOT NULL,
            key_id INTEGER NOT NULL,
            signed_at TEXT NOT NULL,
            count INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            batches TEXT NOT NULL,
            first_serial TEXT NOT NULL,
            last_serial TEXT NOT NULL,
            --  the trust bundle checked: its authority (the id the bundle format uses) and issue
            authority_kid TEXT NOT NULL,
            bundle_issued_at TEXT NOT NULL
        )""",
    ),
)


def open_workshop_store(home: Home) -> Database:
    """The home's workshop store, made on first use."""
    from jdzhi.registry.db import open_store

    return open_store(home.path / WORKSHOP_FILE, (sys.modules[__name__],))


def is_workshop_store(db: Database) -> bool:
    """Whether ``db`` is a workshop store (else it is a registry)."""
    return db.execute("SELECT 1 FROM schema_migrations WHERE component = ?",
                      [COMPONENT]).fetchone() is not None


def record_run(db: Database, *, enterprise_id: int, key_id: int, signed_at: str,
               sha256: str, batches: list[str], serials: list[str], authority_kid: str,
               bundle_issued_at: str) -> None:
    """One signing run's new records (in the caller's transaction, which stores them)."""
    db.execute(
        "INSERT INTO signing_runs (enterprise_id, key_id, signed_at, count, sha256, batches, "
        "first_serial, last_serial, authority_kid, bundle_issued_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [enterprise_id, key_id, signed_at, len(serials), sha256,
         json.dumps(batches, ensure_ascii=False), serials[0], serials[-1], authority_kid,
         bundle_issued_at])
