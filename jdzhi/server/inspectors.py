"""Inspectors of the online service center and their bearer tokens.

A token is 32 random bytes (base64url, 43 characters), shown once when the inspector is added;
the registry keeps only its SHA-256, so a copy of the database lets nobody scan as an inspector.
A token has no expiry of its own: revoking the inspector ends it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jdzhi.errors import Conflict, InvalidInput, InvalidState, NotFound

if TYPE_CHECKING:
    from jdzhi.registry.db import Database

__all__ = ["Inspector", "NewInspector", "add_inspector", "inspector_of_token",
           "list_inspectors", "revoke_inspector"]

_MAX_TOKEN_CHARS = 200


@dataclass(frozen=True)
class Inspector:
    id: int
    name: str
    created_at: str
    revoked_at: str | None


@dataclass(frozen=True)
class NewInspector:
    inspector: Inspector
    #: the bearer token, shown once; only its hash is stored
    token: str


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > 100 or not cleaned.isprintable():
        raise InvalidInput("an inspector's name is one printable line of 1 to 100 characters")
    return cleaned


def add_inspector(db: Database, name: str) -> NewInspector:
    """Register an inspector and make its token (returned once, stored as a hash)."""
    from jdzhi.registry import audit
    from jdzhi.registry.db import transaction
    from jdzhi.timeutil import format_time, utc_now

    name = _clean_name(name)
    token = secrets.token_urlsafe(32)
    created = format_time(utc_now())
    with transaction(db):
        if db.execute("SELECT 1 FROM inspectors WHERE name = ?", [name]).fetchone():
            raise Conflict(f"inspector {name!r} exists already")
        cursor = db.execute(
            "INSERT INTO inspectors (name, token_sha256, created_at) VALUES (?, ?, ?) RETURNING id",
            [name, _token_hash(token), created])
        inspector_id = int(cursor.fetchone()[0])
        audit.record_row_change(db, action="inspector.add", table="inspectors",
                                key=inspector_id, before=None)
    return NewInspector(Inspector(inspector_id, name, created, None), token)


def list_inspectors(db: Database) -> tuple[Inspector, ...]:
    return tuple(Inspector(*row) for row in db.execute(
        "SELECT id, name, created_at, revoked_at FROM inspectors ORDER BY id").fetchall())


def revoke_inspector(db: Database, name: str) -> Inspector:
    """End an inspector's token for good (the inspector's earlier scans stay in the log)."""
    from jdzhi.registry import audit
    from jdzhi.registry.db import transaction
    from jdzhi.timeutil import format_time, utc_now

    name = _clean_name(name)
    with transaction(db):
        found = db.execute("SELECT id, revoked_at FROM inspectors WHERE name = ?",
                           [name]).fetchone()
        if found is None:
            raise NotFound(f"no inspector {name!r} (see `jdzhi inspectors list`)")
        if found[1] is not None:
            raise InvalidState(f"inspector {name!r} was revoked already ({found[1]})")
        before = audit.snapshot(db, "inspectors", found[0])
        db.execute("UPDATE inspectors SET revoked_at = ? WHERE id = ?",
                   [format_time(utc_now()), found[0]])
        audit.record_row_change(db, action="inspector.revoke", table="inspectors",
                                key=found[0], before=before)
    return next(i for i in list_inspectors(db) if i.id == found[0])


def inspector_of_token(db: Database, token: str) -> str | None:
    """The name of the active inspector whose token this is, or None."""
    if not token or len(token) > _MAX_TOKEN_CHARS:
        return None
    found = db.execute("SELECT name FROM inspectors WHERE token_sha256 = ? AND revoked_at IS NULL",
                       [_token_hash(token)]).fetchone()
    return None if found is None else str(found[0])
