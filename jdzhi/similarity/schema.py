"""Tables of the design-copy screening: registered works and their fingerprints.

``works`` holds what an officer registers (audited row by row, hashes included, so that a hash
changed behind jdzhi's back shows in ``jdzhi registry audit``). ``work_features`` holds each
work's ORB keypoints, derived data too large for the audit digests; it goes with its work.
``works_state`` holds one random stamp, renewed by triggers on every change to either table: the
keypoint index file beside the database is named after the stamp it was built from
(:mod:`jdzhi.similarity.index`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jdzhi.registry.db import Database

__all__ = [
    "AUDITED_TABLES",
    "COMPONENT",
    "MIGRATIONS",
    "seed",
]

COMPONENT = "similarity"

AUDITED_TABLES: dict[str, str] = {"works": "id"}

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE works (
            id INTEGER PRIMARY KEY,
            reg_no TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
            owner TEXT NOT NULL CHECK (length(owner) BETWEEN 1 AND 200),
            creation_date TEXT,
            image_name TEXT NOT NULL,
            image_sha256 TEXT NOT NULL CHECK (length(image_sha256) = 64),
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            pdq BLOB NOT NULL CHECK (length(pdq) = 64),
            pdq_quality INTEGER NOT NULL,
            chroma_a REAL NOT NULL,
            chroma_b REAL NOT NULL,
            thumbnail BLOB NOT NULL,
            registered_at TEXT NOT NULL
        )""",
        """CREATE TABLE work_features (
            work_id INTEGER PRIMARY KEY REFERENCES works (id) ON DELETE CASCADE,
            points BLOB NOT NULL,
            descriptors BLOB NOT NULL
        )""",
    ),
    (
        # the state of the registered works, for the retrieval index file beside the database
        # (jdzhi.similarity.index): a fresh random stamp after every change to a work or its
        # keypoints, by whatever program makes it, so that a file built at one state is never
        # taken for another (a reused id or a restored backup included)
        """CREATE TABLE works_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            stamp BLOB NOT NULL CHECK (length(stamp) = 16)
        )""",
        "INSERT INTO works_state (id, stamp) VALUES (1, randomblob(16))",
        *(f"""CREATE TRIGGER works_state_{table}_{event.lower()} AFTER {event} ON {table}
            BEGIN UPDATE works_state SET stamp = randomblob(16) WHERE id = 1; END"""
          for table in ("works", "work_features") for event in ("INSERT", "UPDATE", "DELETE")),
    ),
)


def seed(db: Database) -> None:
    """The works stamp's one row, when the schema was made without it (PostgreSQL's baseline
    revision makes the tables only; ``jdzhi init`` calls this)."""
    from jdzhi.registry.db import transaction

    if db.execute("SELECT count(*) FROM works_state").fetchone()[0] == 0:
        with transaction(db):
            db.execute("INSERT INTO works_state (id, stamp) VALUES (1, ?) ON CONFLICT DO NOTHING",
                       [os.urandom(16)])
