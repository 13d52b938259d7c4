"""A verifier's memory of the registry's log: the newest bundle checkpoint it accepted.

``jdzhi verify --trust`` and ``jdzhi scan --trust`` keep, per authority key, the newest accepted
checkpoint and bundle issue time in ``<JDZHI_HOME>/trust-seen.json`` (made on first use when the
home folder exists; no registry needed) and refuse a bundle that goes back (rollback) or whose
log is not a consistent extension of what they saw (two histories); docs/format.md, "What a
verifier remembers".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import IntegrityError, InvalidInput
from jdzhi.files import replace_atomically
from jdzhi.timeutil import format_time, from_unix
from jdzhi.trace.formats.common import authority_kid
from jdzhi.trace.tlog.bundle_log import log_key
from jdzhi.trace.tlog.checkpoint import Checkpoint, open_checkpoint
from jdzhi.trace.tlog.merkle import verify_consistency
from jdzhi.trace.tlog.note import VerifierKey
from jdzhi.trace.tlog.witness import witness_keys_of

if TYPE_CHECKING:
    from jdzhi.home import Home
    from jdzhi.trace.trust.model import Trust

__all__ = ["SEEN_FILE", "accept_bundle", "check_extends"]

SEEN_FILE = "trust-seen.json"
UNLOGGED_NOTE = ("the trust bundle carries no checkpoint of the registry's log (unlogged, from "
                 "an older jdzhi): its history cannot be checked")

NO_MEMORY_NOTE = ("no jdzhi home, so this bundle is not remembered: an older or forked bundle "
                  "shown later cannot be detected")


@dataclass(frozen=True)
class _Seen:
    issued_at: int
    note: str | None


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError) as error:
        raise InvalidInput(f"cannot read {path}: {error}; move it away to start afresh") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} is not a jdzhi trust memory; move it away to start afresh")
    return data


def _seen(data: dict[str, Any], kid: str, path: Path) -> _Seen | None:
    entry = data.get(kid)
    if entry is None:
        return None
    try:
        note = entry["note"]
        if note is not None and not isinstance(note, str):
            raise TypeError("note")
        return _Seen(int(entry["iat"]), note)
    except (KeyError, TypeError, ValueError):
        raise InvalidInput(f"{path} is damaged; move it away to start afresh") from None


def check_extends(trust: Trust, accepted_note: str | None) -> None:
    """Refuse (IntegrityError) a bundle whose checkpoint does not extend ``accepted_note``, the
    signed checkpoint of the same registry's log accepted before (None: none was): a smaller
    log (rollback), the same size with another root or a proof that fails (two histories), or
    no proof from the accepted size. The one rule for a verifier's memory and `jdzhi server`."""
    if accepted_note is None:
        return
    if trust.log is None:
        raise IntegrityError("the trust bundle carries no checkpoint, but a checkpoint of this "
                             "registry's log was accepted before: an older bundle (rollback)?")
    new = trust.log.checkpoint
    old = _old_checkpoint(accepted_note, new.origin, trust.authority_public_key)
    if new.size < old.size:
        raise IntegrityError(f"the trust bundle's log has {new.size} entries, fewer than the "
                             f"{old.size} of a checkpoint accepted before: rollback refused")
    if new.size == old.size:
        check = verify_consistency(old.size, new.size, old.root_hash, new.root_hash, [])
    else:
        proof = trust.log.proof_from(old.size)
        if proof is None:
            raise IntegrityError(
                f"the trust bundle cannot show that its log extends the checkpoint of size "
                f"{old.size} accepted before (it carries no proof from that size): verify with "
                "the bundles published in between first")
        check = verify_consistency(old.size, new.size, old.root_hash, new.root_hash,
                                   proof.hashes)
    if not check.ok:
        raise IntegrityError(f"the trust bundle's log is not a consistent extension of the "
                             f"checkpoint of size {old.size} accepted before ({check.detail}): "
                             "the registry shows two histories; refused")


def _log_grew(trust: Trust, seen: _Seen) -> bool:
    if trust.log is None:
        return False
    return seen.note is None or trust.log.checkpoint.size > _old_checkpoint(
        seen.note, trust.log.checkpoint.origin, trust.authority_public_key).size


def _old_checkpoint(note: str, origin: str, authority: bytes) -> Checkpoint:
    old = open_checkpoint(note.encode(), origin=origin, log_key=log_key(origin, authority))
    return old.checkpoint


def _check_witnesses(trust: Trust, witnesses: Sequence[VerifierKey]) -> None:
    if not witnesses:
        return
    if trust.log is None:
        raise IntegrityError("a witness cosignature is required, but the trust bundle carries "
                             "no checkpoint to cosign")
    cosigned = {(c.name, c.key_id) for c in
                trust.log.open(trust.authority_public_key, witnesses).cosignatures}
    missing = [key.name for key in witnesses if (key.name, key.key_id) not in cosigned]
    if missing:
        raise IntegrityError(f"the trust bundle's checkpoint is not cosigned by witness "
                             f"{', '.join(missing)}: refused")


def accept_bundle(home: Home | None, trust: Trust, witnesses: Sequence[str] = ()) -> Trust:
    """Check a bundle's log against the home's memory and its cosignatures by the
    ``witnesses`` (:func:`jdzhi.trace.tlog.witness.witness_keys_of`), then remember it when it
    is the newest seen. Raises IntegrityError (exit 8) for a rollback, a log that is not a
    consistent extension, or a missing cosignature."""
    _check_witnesses(trust, witness_keys_of(witnesses, trust.keys))
    notes = () if trust.log is not None else (UNLOGGED_NOTE,)
    if home is None:  # a library caller without a home: nothing to remember in
        return replace(trust, warnings=(*trust.warnings, *notes, NO_MEMORY_NOTE))
    path = home.path / SEEN_FILE
    data = _load(path)
    kid = authority_kid(trust.authority_public_key).hex()
    seen = _seen(data, kid, path)
    if seen is not None:
        if trust.issued_at < seen.issued_at:
            raise IntegrityError(
                f"the trust bundle was issued {format_time(from_unix(trust.issued_at))}, before "
                f"one already accepted ({format_time(from_unix(seen.issued_at))}): rollback "
                "refused")
        check_extends(trust, seen.note)
    if seen is None or trust.issued_at > seen.issued_at or _log_grew(trust, seen):
        note = trust.log.note.decode() if trust.log is not None else None
        data[kid] = {"iat": trust.issued_at, "note": note}
        _write(path, data)
    return replace(trust, warnings=(*trust.warnings, *notes))


def _write(path: Path, data: dict[str, Any]) -> None:
    """Remember, in the home (made on first use, as the verifier's own memory)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidInput(f"cannot make the jdzhi home {path.parent}: {error.strerror}") from None
    text = json.dumps(data, indent=1, sort_keys=True)
    replace_atomically(path, text.encode("utf-8"))
