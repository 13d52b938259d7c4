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
    from jdzhi.registry.db import Database

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


def audit_problems(db: Database) -> list[str]:
    """Keys whose certificate does not vouch for their row (:func:`certificate_problems`), and
    signed records that no longer match the count and SHA-256 their audit entries recorded (a
    record deleted, altered or added outside jdzhi).

    A signing run's entity is ``signed_records:<enterprise id>:<signing time>`` (action
    ``records.sign``): its rows are those of that enterprise signed at that time, in id order
    (runs that share a second share the entity and follow in the order of their entries). The
    rows of an upload to `jdzhi server` (``records.upload``, the entity naming the upload time)
    are the enterprise's remaining rows, in id order, in the order of the uploads.
    """
    problems = certificate_problems(db)
    signed: dict[str, list[tuple[str, int]]] = {}
    uploads: dict[int, list[tuple[str, str, int]]] = {}
    for action, entity, after, details in db.execute(
        "SELECT action, entity, after_digest, details FROM audit_log "
        "WHERE action IN ('records.sign', 'records.upload') ORDER BY seq"
    ):
        count = int(json.loads(details)["count"])
        if action == "records.sign":
            signed.setdefault(entity, []).append((after, count))
        else:
            uploads.setdefault(int(entity.split(":", 2)[1]), []).append((entity, after, count))
    matched: set[int] = set()
    # a record stored as text behind jdzhi's back is read as the bytes it would be in SQLite
    record = "CAST(record AS BLOB)" if db.dialect == "sqlite" else "record"
    for entity, entries in signed.items():
        _, signer, signed_at = entity.split(":", 2)
        rows = db.execute(
            f"SELECT id, {record} FROM signed_records "
            "WHERE enterprise_id = ? AND signed_at = ? ORDER BY id",
            [int(signer), signed_at]).fetchall()
        problems.extend(_unmatched_batches(entity, entries, rows, matched))
    enterprises: set[int] = {int(row[0]) for row in db.execute(
        "SELECT DISTINCT enterprise_id FROM signed_records")}
    for enterprise_id in sorted(enterprises | set(uploads)):
        rows = [row for row in db.execute(
            f"SELECT id, {record} FROM signed_records WHERE enterprise_id = ? "
            "ORDER BY id", [enterprise_id]) if row[0] not in matched]
        for upload, after, count in uploads.get(enterprise_id, []):
            problems.extend(_unmatched_batches(upload, [(after, count)], rows, matched))
            rows = [row for row in rows if row[0] not in matched]
        if rows:
            problems.append(f"enterprise {enterprise_id} holds {len(rows)} signed records that "
                            "no audit entry recorded (added outside jdzhi)")
    return problems


def _unmatched_batches(entity: str, entries: list[tuple[str, int]],
                       rows: list[tuple[int, bytes]], matched: set[int]) -> list[str]:
    """Match ``entries`` (after-digest, count) to ``rows`` in order, marking the rows taken."""
    problems = []
    start = 0
    for after, count in entries:
        part = rows[start:start + count]
        start += count
        records = [record for _, record in part]
        recomputed = {"count": len(part), "sha256": hashlib.sha256(b"".join(records)).hexdigest()}
        matched.update(row_id for row_id, _ in part)  # by position: its rows, altered or not
        if digest(recomputed) != after:
            problems.append(f"the records of signing batch {entity} differ from those its "
                            "audit entry recorded (deleted or altered outside jdzhi)")
    return problems
