"""The registry's transparency log: every audit entry is a leaf (leaf index = seq - 1, leaf data
:func:`jdzhi.registry.audit.leaf_data`), and ``jdzhi trust export``, which holds the authority
key, signs a checkpoint of the whole log (docs/format.md, "Transparency log").

Each checkpoint is kept in the database (``log_checkpoints``) and in files beside the authority
key, in ``<home>/keys/checkpoints/``: ``<size>.note`` for each, ``latest.note`` for the newest
(written atomically, 0644), and ``leaves``: the leaf hashes the newest one covers, 32 bytes each,
in order. The leaves name the first entry that differs when history was rewritten; at 1,000,000
entries they take 32 MB, and checking the log against them adds about 0.6 s of CPU to an export of
8.3 s (``benchmarks/bench_tlog_export.py``).
A database writer can delete the table's rows but not these files, so the files come first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from jdzhi.errors import IntegrityError, InvalidInput
from jdzhi.registry import audit
from jdzhi.registry.db import transaction
from jdzhi.timeutil import format_time
from jdzhi.trace.formats.common import authority_kid
from jdzhi.trace.tlog.bundle_log import ORIGIN_PREFIX, ConsistencyProof, log_key
from jdzhi.trace.tlog.checkpoint import Checkpoint, open_checkpoint
from jdzhi.trace.tlog.merkle import HASH_LENGTH, MerkleTree, leaf_hash
from jdzhi.trace.tlog.note import Ed25519NoteSigner, sign_note

if TYPE_CHECKING:
    from jdzhi.home import Home
    from jdzhi.registry.db import Database
    from jdzhi.trace.keys.keyfile import SigningKey

__all__ = [
    "MAX_PROOFS",
    "ORIGIN_SETTING",
    "SignedCheckpoint",
    "checkpoint_problems",
    "checkpoints_dir",
    "ensure_origin",
    "history_problems",
    "log_origin",
    "registry_leaf_hashes",
    "sign_checkpoint",
]

ORIGIN_SETTING = "log_origin"
#: a bundle carries consistency proofs from this many of the newest earlier checkpoints, so that
#: a verifier that missed a few bundles can still check the new one against what it saw
MAX_PROOFS = 12
_LATEST = "latest.note"
_LEAVES = "leaves"
_HASHED_COLUMNS = ("seq", "at", "actor", "action", "entity", "before_digest", "after_digest",
                   "details", "prev_hash")


@dataclass(frozen=True)
class SignedCheckpoint:
    """The checkpoint an export signed, as a signed note, and the proofs to it."""

    checkpoint: Checkpoint
    note: bytes
    proofs: tuple[ConsistencyProof, ...]


def checkpoints_dir(home: Home) -> Path:
    return home.keys_dir / "checkpoints"


def log_origin(db: Database) -> str | None:
    found = db.execute("SELECT value FROM trace_settings WHERE name = ?",
                       [ORIGIN_SETTING]).fetchone()
    return None if found is None else str(found[0])


def ensure_origin(db: Database, authority_public_key: bytes) -> str:
    """The log's origin, chosen at the first export and never changed:
    ``jdzhi/<host of the label base, lowercase>/<authority kid, hex>``."""
    from jdzhi.trace.trust.from_registry import registry_base_url

    with transaction(db):
        stored = log_origin(db)
        if stored is not None:
            return stored
        host = registry_base_url(db).split("//", 1)[1].split("/", 1)[0].lower()
        origin = f"{ORIGIN_PREFIX}{host}/{authority_kid(authority_public_key).hex()}"
        db.execute("INSERT INTO trace_settings (name, value) VALUES (?, ?)",
                   [ORIGIN_SETTING, origin])
        audit.record_row_change(db, action="setting.set", table="trace_settings",
                                key=ORIGIN_SETTING, before=None)
    return origin


def registry_leaf_hashes(db: Database) -> list[bytes]:
    """The leaf hash of every audit entry, in ``seq`` order."""
    cursor = db.execute(f"SELECT {', '.join(_HASHED_COLUMNS)} FROM audit_log ORDER BY seq")
    return [leaf_hash(audit.leaf_data(dict(zip(_HASHED_COLUMNS, row, strict=True))))
            for row in cursor]


@dataclass(frozen=True)
class _Previous:
    """The newest checkpoint signed before, where it was read, and the leaves it covers (None
    when only the database still holds it)."""

    checkpoint: Checkpoint
    where: str
    leaves: bytes | None


def _previous(home: Home | None, db: Database, origin: str,
              public_key: bytes) -> _Previous | None:
    key = log_key(origin, public_key)
    latest = None if home is None else checkpoints_dir(home) / _LATEST
    if latest is not None and latest.exists():
        checkpoint = open_checkpoint(latest.read_bytes(), origin=origin, log_key=key).checkpoint
        leaves_path = latest.with_name(_LEAVES)
        leaves = leaves_path.read_bytes()[: checkpoint.size * HASH_LENGTH] \
            if leaves_path.exists() else b""
        if (len(leaves) != checkpoint.size * HASH_LENGTH or MerkleTree(
                [leaves[i:i + HASH_LENGTH] for i in range(0, len(leaves), HASH_LENGTH)]
        ).root() != checkpoint.root_hash):
            raise IntegrityError(f"{leaves_path} does not hold the leaves of {latest} "
                                 "(damaged or replaced): restore it from a backup")
        return _Previous(checkpoint, f"the checkpoint in {latest}", leaves)
    row = db.execute("SELECT note FROM log_checkpoints ORDER BY size DESC LIMIT 1").fetchone()
    if row is None:
        return None
    checkpoint = open_checkpoint(str(row[0]).encode(), origin=origin, log_key=key).checkpoint
    return _Previous(checkpoint, "the registry's newest checkpoint", None)


def _departure(previous: _Previous, leaves: list[bytes]) -> str | None:
    """How the log departs from the checkpoint signed before, or None when it extends it."""
    size = previous.checkpoint.size
    signed = f"{previous.where} (size {size})"
    if previous.leaves is not None:
        if b"".join(leaves[:size]) != previous.leaves:
            for index, leaf in enumerate(leaves[:size]):
                if previous.leaves[index * HASH_LENGTH:(index + 1) * HASH_LENGTH] != leaf:
                    return (f"audit entry {index + 1} differs from the one {signed} covers: "
                            "the log's history was rewritten")
    elif len(leaves) >= size and MerkleTree(leaves).root(size) != previous.checkpoint.root_hash:
        return (f"the first {size} audit entries no longer match {signed}: the log's history "
                "was rewritten")
    if len(leaves) < size:
        return (f"the audit log holds {len(leaves)} entries but {signed} covers {size}: entries "
                f"{len(leaves) + 1} to {size} were cut")
    return None


def history_problems(db: Database) -> list[str]:
    """``registry audit``'s check of the log against the newest checkpoint signed of it."""
    from jdzhi.trace.keys.authority import authority_public_key

    origin = log_origin(db)
    if origin is None:
        return []
    home = db.home
    try:
        previous = _previous(home, db, origin, authority_public_key(db))
    except (IntegrityError, InvalidInput) as error:
        return [f"the newest checkpoint of the log cannot be checked: {error.message}"]
    problem = None if previous is None else _departure(previous, registry_leaf_hashes(db))
    return [] if problem is None else [problem]


def checkpoint_problems(db: Database) -> tuple[int, list[str]]:
    """How many checkpoints the registry keeps, and what fails when each is checked against the
    log as it is now: its signature by the log's key (origin and authority key of the registry),
    its stored size and root hash, and the root of the log's first ``size`` entries."""
    from jdzhi.trace.keys.authority import authority_public_key

    stored = [(int(size), bytes(root), str(note)) for size, root, note in db.execute(
        "SELECT size, root_hash, note FROM log_checkpoints ORDER BY size")]
    origin = log_origin(db)
    if not stored:
        return 0, []
    if origin is None:
        return len(stored), ["the registry keeps checkpoints but no log origin"]
    key = log_key(origin, authority_public_key(db))
    tree = MerkleTree(registry_leaf_hashes(db))
    problems: list[str] = []
    for size, root, note in stored:
        try:
            checkpoint = open_checkpoint(note.encode(), origin=origin, log_key=key).checkpoint
        except (IntegrityError, InvalidInput) as error:
            problems.append(f"the checkpoint of size {size} does not verify: {error.message}")
            continue
        if (checkpoint.size, checkpoint.root_hash) != (size, root):
            problems.append(f"the checkpoint of size {size} differs from its signed note")
        elif size > tree.size or tree.root(size) != root:
            problems.append(f"the log's first {size} entries no longer match the checkpoint "
                            "signed of them")
    return len(stored), problems


def sign_checkpoint(home: Home, db: Database, authority: SigningKey,
                    moment: datetime) -> SignedCheckpoint:
    """Check that the log extends the last checkpoint signed (from its file beside the authority
    key, else the database), then sign and keep a checkpoint of the whole log.

    Raises IntegrityError naming the first differing entry when history was cut or rewritten.
    """
    origin = ensure_origin(db, authority.public_key)
    with transaction(db):
        leaves = registry_leaf_hashes(db)
        previous = _previous(home, db, origin, authority.public_key)
        problem = None if previous is None else _departure(previous, leaves)
        if problem is not None:
            raise IntegrityError(f"{problem}; refusing to sign a checkpoint")
        tree = MerkleTree(leaves)
        checkpoint = Checkpoint(origin, tree.size, tree.root())
        note = sign_note(checkpoint.text(),
                         Ed25519NoteSigner(origin, authority.secret)).encode()
        earlier = sorted({size for (size,) in db.execute(
            "SELECT size FROM log_checkpoints WHERE size BETWEEN 1 AND ?", [tree.size - 1])}
            | ({previous.checkpoint.size} if previous and 0 < previous.checkpoint.size < tree.size
               else set()), reverse=True)[:MAX_PROOFS]
        proofs = tuple(ConsistencyProof(old, tree.size, tuple(tree.consistency_proof(old)))
                       for old in earlier)
        _write_files(checkpoints_dir(home), previous, leaves, note, tree.size)
        db.execute("INSERT INTO log_checkpoints (size, root_hash, note, signed_at) "
                   "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                   [tree.size, checkpoint.root_hash, note.decode(), format_time(moment)])
    return SignedCheckpoint(checkpoint, note, proofs)


def _write_files(folder: Path, previous: _Previous | None, leaves: list[bytes], note: bytes,
                 size: int) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    kept = 0 if previous is None or previous.leaves is None else previous.checkpoint.size
    descriptor = os.open(folder / _LEAVES, os.O_RDWR | os.O_CREAT, 0o644)
    with os.fdopen(descriptor, "r+b") as handle:  # append-only but for a crash's leftovers
        handle.truncate(kept * HASH_LENGTH)
        handle.seek(kept * HASH_LENGTH)
        handle.write(b"".join(leaves[kept:]))
        handle.flush()
        os.fsync(handle.fileno())
    _write_atomically(folder / f"{size}.note", note)
    _write_atomically(folder / _LATEST, note)


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
