"""Tables of the traceability: the authority key, certified keys, testing centers, signed
records, lab endorsements and trace settings.

Signed records are not audited row by row: each signing batch appends one audit entry holding
the count and a SHA-256 over the batch's records, and every record carries its own signature.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from jdzhi.registry.audit import digest
from jdzhi.trace.keys.certified import certificate_problems

if TYPE_CHECKING:
    import sqlite_utils

__all__ = ["AUDITED_TABLES", "COMPONENT", "MIGRATIONS", "audit_problems"]

COMPONENT = "trace"

AUDITED_TABLES: dict[str, str] = {
    "authority_keys": "kid",
    "trust_keys": "key_id",
    "labs": "id",
    "endorsements": "id",
    "trace_settings": "name",
}

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE authority_keys (
            kid TEXT PRIMARY KEY,
            public_key BLOB NOT NULL UNIQUE CHECK (length(public_key) = 32),
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE trace_settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
        """CREATE TABLE labs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            accreditation TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE trust_keys (
            key_id INTEGER PRIMARY KEY CHECK (key_id BETWEEN 1 AND 65535),
            role TEXT NOT NULL CHECK (role IN ('licensee', 'lab')),
            public_key BLOB NOT NULL UNIQUE CHECK (length(public_key) = 32),
            enterprise_id INTEGER REFERENCES enterprises (id),
            license_id INTEGER REFERENCES licenses (id),
            lab_id INTEGER REFERENCES labs (id),
            not_before TEXT NOT NULL,
            not_after TEXT NOT NULL CHECK (not_after > not_before),
            certificate BLOB NOT NULL,
            issued_at TEXT NOT NULL,
            ended_at TEXT,
            end_kind TEXT CHECK (end_kind IN ('revoked', 'superseded')),
            end_reason TEXT NOT NULL DEFAULT '',
            end_recorded_at TEXT,
            CHECK ((role = 'licensee') = (enterprise_id IS NOT NULL AND license_id IS NOT NULL)),
            CHECK ((role = 'lab') = (lab_id IS NOT NULL)),
            CHECK ((ended_at IS NULL) = (end_kind IS NULL))
        )""",
        "CREATE INDEX trust_keys_enterprise ON trust_keys (enterprise_id)",
        """CREATE TABLE signed_records (
            id INTEGER PRIMARY KEY,
            enterprise_id INTEGER NOT NULL REFERENCES enterprises (id),
            serial TEXT NOT NULL,
            key_id INTEGER NOT NULL REFERENCES trust_keys (key_id),
            batch TEXT NOT NULL,
            category_code TEXT NOT NULL REFERENCES categories (code),
            production_date TEXT NOT NULL,
            signed_at TEXT NOT NULL,
            record BLOB NOT NULL,
            label TEXT NOT NULL,
            UNIQUE (enterprise_id, serial)
        )""",
        "CREATE INDEX signed_records_batch ON signed_records (enterprise_id, batch)",
        """CREATE TABLE endorsements (
            id INTEGER PRIMARY KEY,
            lab_id INTEGER NOT NULL REFERENCES labs (id),
            key_id INTEGER NOT NULL REFERENCES trust_keys (key_id),
            enterprise_id INTEGER NOT NULL REFERENCES enterprises (id),
            batch TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('pass', 'fail')),
            report_no TEXT NOT NULL,
            tested_at TEXT NOT NULL,
            signed_at TEXT NOT NULL,
            message BLOB NOT NULL,
            UNIQUE (lab_id, report_no)
        )""",
        "CREATE INDEX endorsements_batch ON endorsements (enterprise_id, batch)",
    ),
)


def audit_problems(db: sqlite_utils.Database) -> list[str]:
    """Keys whose certificate does not vouch for their row (:func:`certificate_problems`), and
    signing batches whose stored records no longer match the count and SHA-256 their audit
    entry recorded (a record deleted, altered or added outside jdzhi).

    A batch's entity is ``signed_records:<enterprise id>:<signing time>``; runs that share a
    second share the entity, and their rows follow in the order of their entries.
    """
    problems = certificate_problems(db)
    batches: dict[str, list[tuple[str, int]]] = {}
    for entity, after, details in db.execute(
        "SELECT entity, after_digest, details FROM audit_log WHERE action = 'records.sign' "
        "ORDER BY seq"
    ):
        batches.setdefault(entity, []).append((after, int(json.loads(details)["count"])))
    for entity, entries in batches.items():
        _, enterprise_id, signed_at = entity.split(":", 2)
        records = [record for (record,) in db.execute(
            "SELECT CAST(record AS BLOB) FROM signed_records "
            "WHERE enterprise_id = ? AND signed_at = ? ORDER BY id", [int(enterprise_id), signed_at])]
        start = 0
        for after, count in entries:
            part = records[start:start + count]
            start += count
            recomputed = {"count": len(part), "sha256": hashlib.sha256(b"".join(part)).hexdigest()}
            if digest(recomputed) != after:
                problems.append(f"the records of signing batch {entity} differ from those its "
                                "audit entry recorded (deleted or altered outside jdzhi)")
        if start < len(records):
            problems.append(f"{entity} holds records that no audit entry recorded")
    return problems
