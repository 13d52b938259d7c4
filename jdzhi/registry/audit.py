"""The append-only, hash-chained audit log of every change to the registry.

Each entry records who changed what, when, and digests of the entity before and after. Entry n
stores ``hash = SHA-256(canonical JSON of its fields and the previous entry's hash)``, so that
editing, deleting or inserting an entry breaks the chain. Triggers refuse UPDATE and DELETE on the
log; a change made with another tool directly on an audited table leaves that row's digest
different from the last digest the log recorded for it, which :func:`verify` reports.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jdzhi.registry.db import Database
from jdzhi.timeutil import format_time, stored_time, utc_now

__all__ = [
    "AUDITED_TABLES",
    "CLOCK_STEP_BACK_SECONDS",
    "COMPONENT",
    "GENESIS_HASH",
    "MIGRATIONS",
    "AuditEntry",
    "AuditReport",
    "append",
    "canonical_json",
    "current_actor",
    "digest",
    "entity_key",
    "leaf_data",
    "record_row_change",
    "snapshot",
    "verify",
]

COMPONENT = "audit"
AUDITED_TABLES: dict[str, str] = {}
GENESIS_HASH = "0" * 64
#: how far an entry may be dated before the latest one before it (a clock corrected by NTP) before
#: the audit calls it a clock set back
CLOCK_STEP_BACK_SECONDS = 300

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            before_digest TEXT,
            after_digest TEXT,
            details TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE
        )""",
        "CREATE INDEX audit_log_entity ON audit_log (entity, seq)",
        """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
           BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
        """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
           BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    ),
)


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text: the same value always gives the same string."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=_json_default)


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot serialize {type(value).__name__}")


def digest(value: Mapping[str, Any] | None) -> str | None:
    """SHA-256 of a row's canonical JSON, or None for an absent row."""
    if value is None:
        return None
    return hashlib.sha256(canonical_json(dict(value)).encode()).hexdigest()


def current_actor() -> str:
    """Who is making the change: ``JDZHI_ACTOR``, else the operating-system user."""
    actor = os.environ.get("JDZHI_ACTOR")
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    entity: str
    before_digest: str | None
    after_digest: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


_HASHED_FIELDS = ("seq", "at", "actor", "action", "entity", "before_digest", "after_digest",
                  "details", "prev_hash")


def leaf_data(entry: Mapping[str, Any]) -> bytes:
    """The bytes an audit entry (a row of ``audit_log``) contributes to the registry's
    transparency log: the canonical JSON of its hashed fields, whose SHA-256 is its ``hash``
    (docs/format.md, "Leaf data"). ``details`` is the stored text, not the decoded map."""
    return canonical_json({key: entry[key] for key in _HASHED_FIELDS}).encode()


def _entry_hash(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(leaf_data(fields)).hexdigest()


def entity_key(table: str, key: object) -> str:
    return f"{table}:{key}"


def append(
    db: Database,
    *,
    action: str,
    entity: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry; call it inside the transaction that makes the change."""
    assert db.in_transaction, "audit entries are written in the change's own transaction"
    last = db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    fields: dict[str, Any] = {
        "seq": seq,
        "at": format_time(utc_now()),
        "actor": current_actor(),
        "action": action,
        "entity": entity,
        "before_digest": digest(before),
        "after_digest": digest(after),
        "details": canonical_json(dict(details or {})),
        "prev_hash": prev_hash,
    }
    fields["hash"] = _entry_hash(fields)
    db.execute(
        "INSERT INTO audit_log (seq, at, actor, action, entity, before_digest, after_digest, "
        "details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [fields[k] for k in ("seq", "at", "actor", "action", "entity", "before_digest",
                             "after_digest", "details", "prev_hash", "hash")],
    )
    return AuditEntry(**{**fields, "details": json.loads(fields["details"])})


def record_row_change(
    db: Database,
    *,
    action: str,
    table: str,
    key: object,
    before: Mapping[str, Any] | None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Audit a change to one row of an audited table, reading its state after the change."""
    pk = _audited_pk(table)
    after = _row(db, table, pk, key)
    return append(db, action=action, entity=entity_key(table, key), before=before, after=after,
                  details=details)


def snapshot(db: Database, table: str, key: object) -> dict[str, Any] | None:
    """A row as the audit log digests it, or None when it does not exist."""
    return _row(db, table, _audited_pk(table), key)


def _audited_pk(table: str) -> str:
    from jdzhi.registry.db import audited_tables

    return audited_tables()[table]


def _row(db: Database, table: str, pk: str, key: object) -> dict[str, Any] | None:
    cursor = db.execute(f'SELECT * FROM "{table}" WHERE "{pk}" = ?', [key])
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([c[0] for c in cursor.description], row, strict=True))


@dataclass(frozen=True)
class AuditReport:
    """The outcome of :func:`verify`: ``ok`` only when ``problems`` is empty."""

    entries: int
    problems: tuple[str, ...]
    head_hash: str

    @property
    def ok(self) -> bool:
        return not self.problems


def _time_problem(seq: int, at: object, latest: str) -> str | None:
    """What is wrong with the time of entry ``seq`` after the latest before it, if anything."""
    try:
        moment = stored_time(str(at))
    except ValueError:
        return f"audit entry {seq} has a time not in the stored form: {at!r}"
    if latest and (stored_time(latest) - moment).total_seconds() > CLOCK_STEP_BACK_SECONDS:
        return (f"audit entry {seq} is dated {at}, before the entry before it ({latest}): "
                "was the clock set back?")
    return None


def verify(db: Database) -> AuditReport:
    """Check the chain and its times, that every audited row matches the last digest the log holds
    for it, and each component's own ``audit_problems(db)`` (what rows alone cannot show)."""
    from jdzhi.registry.db import audited_tables, components

    problems: list[str] = []
    prev_hash = GENESIS_HASH
    expected_seq = 1
    last_digest: dict[str, str | None] = {}
    cursor = db.execute(
        "SELECT seq, at, actor, action, entity, before_digest, after_digest, details, prev_hash, "
        "hash FROM audit_log ORDER BY seq"
    )
    names = [c[0] for c in cursor.description]
    count = 0
    latest = ""
    for raw in cursor:
        entry = dict(zip(names, raw, strict=True))
        count += 1
        time_problem = _time_problem(entry["seq"], entry["at"], latest)
        if time_problem is not None:
            problems.append(time_problem)
        else:
            latest = max(latest, entry["at"])  # fixed-width UTC text: text order is time order
        if entry["seq"] != expected_seq:
            problems.append(f"audit entry {expected_seq} is missing (next is {entry['seq']})")
        if entry["prev_hash"] != prev_hash:
            problems.append(f"audit entry {entry['seq']} does not follow the entry before it")
        if _entry_hash(entry) != entry["hash"]:
            problems.append(f"audit entry {entry['seq']} was altered after it was written")
        prev_hash = entry["hash"]
        expected_seq = entry["seq"] + 1
        last_digest[entry["entity"]] = entry["after_digest"]
    for table, pk in audited_tables().items():
        seen: set[str] = set()
        cursor = db.execute(f'SELECT * FROM "{table}"')
        columns = [c[0] for c in cursor.description]
        for raw in cursor:
            row = dict(zip(columns, raw, strict=True))
            entity = entity_key(table, row[pk])
            seen.add(entity)
            if entity not in last_digest:
                problems.append(f"{entity} was added outside jdzhi (no audit entry)")
            elif last_digest[entity] != digest(row):
                problems.append(f"{entity} was changed outside jdzhi (differs from its audit log)")
        for entity, after in last_digest.items():
            if entity.startswith(f"{table}:") and after is not None and entity not in seen:
                problems.append(f"{entity} was deleted outside jdzhi")
    for module in components():
        check = getattr(module, "audit_problems", None)
        if check is not None:
            problems.extend(check(db))
    return AuditReport(entries=count, problems=tuple(problems), head_hash=prev_hash)
