"""The authority key: the root of the trust chain, created once at ``jdzhi init``.

Its public key lives in the registry (``authority_keys``) and, as PEM, beside the encrypted
private key (``keys/authority.pub``); it certifies licensee and lab keys and signs trust bundles.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jdzhi.errors import InvalidState, KeyUnusable, NotInitialized
from jdzhi.registry import audit
from jdzhi.registry.db import rows, transaction
from jdzhi.timeutil import format_time, utc_now
from jdzhi.trace.formats.common import authority_kid
from jdzhi.trace.keys.keyfile import SigningKey, generate, load_key, write_key, write_public_key

if TYPE_CHECKING:
    from jdzhi.home import Home
    from jdzhi.registry.db import Database

__all__ = [
    "AuthorityResult",
    "authority_public_key",
    "authority_public_path",
    "ensure_authority",
    "load_authority",
]


@dataclass(frozen=True)
class AuthorityResult:
    created: bool
    kid: str
    public_key: bytes
    key_path: str


def authority_public_path(home: Home) -> Path:
    return home.keys_dir / "authority.pub"


def authority_public_key(db: Database) -> bytes:
    """The registry's authority public key (raw, 32 bytes)."""
    found = db.execute(
        "SELECT public_key FROM authority_keys ORDER BY created_at DESC LIMIT 1"
    ).fetchone()
    if found is None:
        raise NotInitialized("the registry has no authority key yet: run `jdzhi init`")
    return bytes(found[0])


def ensure_authority(home: Home, db: Database,
                     passphrase: bytes | None) -> AuthorityResult:
    """Create the authority key unless the home has one; ``passphrase`` is needed to create it."""
    key_path = home.authority_key_path
    # checked inside the write transaction, so that of two `jdzhi init` racing on a new home
    # the second finds the key the first made instead of failing on its file
    with transaction(db):
        found = rows(db, "SELECT kid, public_key FROM authority_keys "
                         "ORDER BY created_at DESC LIMIT 1")
        if key_path.exists():
            if not found:
                raise InvalidState(
                    f"{key_path} exists but the registry knows no authority key; restore the "
                    "registry from a backup or move the key file away"
                )
            return AuthorityResult(False, found[0]["kid"], bytes(found[0]["public_key"]),
                                   str(key_path))
        if found:
            raise InvalidState(
                f"the registry has authority key {found[0]['kid']} but {key_path} is missing; "
                "restore the key file from its backup"
            )
        if passphrase is None:
            raise KeyUnusable("a passphrase is needed to create the authority key")
        home.keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = generate()
        kid = authority_kid(key.public_key).hex()
        db.execute("INSERT INTO authority_keys (kid, public_key, created_at) VALUES (?, ?, ?)",
                   [kid, key.public_key, format_time(utc_now())])
        audit.record_row_change(db, action="authority.create", table="authority_keys", key=kid,
                                before=None)
        write_key(key_path, key, passphrase)
    write_public_key(authority_public_path(home), key.public_key)
    return AuthorityResult(True, kid, key.public_key, str(key_path))


def load_authority(home: Home, db: Database, passphrase: bytes) -> SigningKey:
    """The authority's private key, checked against the public key the registry holds."""
    expected = authority_public_key(db)
    key = load_key(home.authority_key_path, passphrase)
    if key.public_key != expected:
        raise KeyUnusable(f"{home.authority_key_path} is not this registry's authority key")
    return key
