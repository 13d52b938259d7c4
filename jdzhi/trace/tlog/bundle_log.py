"""What a trust bundle says of the registry's transparency log: the signed checkpoint (``ckpt``)
and consistency proofs to it from earlier checkpoints (``cprf``), as docs/format.md specifies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jdzhi.errors import IntegrityError
from jdzhi.trace.tlog.checkpoint import (
    Checkpoint,
    OpenedCheckpoint,
    open_checkpoint,
    parse_checkpoint,
)
from jdzhi.trace.tlog.merkle import HASH_LENGTH
from jdzhi.trace.tlog.note import SignatureType, VerifierKey, parse_note

__all__ = [
    "ORIGIN_PREFIX",
    "BundleLog",
    "ConsistencyProof",
    "log_key",
    "open_bundle_log",
    "proofs_payload",
]

#: every registry log's origin starts so (docs/format.md, "Checkpoints")
ORIGIN_PREFIX = "jdzhi/"


def log_key(origin: str, authority_public_key: bytes) -> VerifierKey:
    """The key that signs a registry's checkpoints: the authority key, named as the log."""
    return VerifierKey(origin, SignatureType.ED25519, authority_public_key)


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 PROOF(old_size, D[new_size])."""

    old_size: int
    new_size: int
    hashes: tuple[bytes, ...]


@dataclass(frozen=True)
class BundleLog:
    """A bundle's checkpoint (its log signature verified) and its consistency proofs."""

    note: bytes
    checkpoint: Checkpoint
    proofs: tuple[ConsistencyProof, ...]

    def proof_from(self, old_size: int) -> ConsistencyProof | None:
        return next((p for p in self.proofs if p.old_size == old_size), None)

    def open(self, authority_public_key: bytes,
             witness_keys: Sequence[VerifierKey] = ()) -> OpenedCheckpoint:
        return open_checkpoint(self.note, origin=self.checkpoint.origin,
                               log_key=log_key(self.checkpoint.origin, authority_public_key),
                               witness_keys=witness_keys)


def proofs_payload(proofs: Sequence[ConsistencyProof]) -> list[dict[str, Any]]:
    return [{"m": p.old_size, "n": p.new_size, "p": list(p.hashes)} for p in proofs]


def open_bundle_log(note_text: Any, proofs: Any, authority_public_key: bytes) -> BundleLog:
    """Read ``ckpt`` and ``cprf`` of a bundle signed by ``authority_public_key``: the checkpoint
    must be of a jdzhi log and signed by that key under the log's name; each proof ends at the
    checkpoint's size. Raises ValueError (a malformed field) or IntegrityError."""
    if not isinstance(note_text, str) or not isinstance(proofs, list):
        raise ValueError("ckpt is text and cprf an array")
    note = note_text.encode("utf-8")
    origin = parse_checkpoint(parse_note(note).text).origin
    if not origin.startswith(ORIGIN_PREFIX):
        raise ValueError(f"the checkpoint's origin {origin[:60]!r} is not a jdzhi log")
    checkpoint = open_checkpoint(note, origin=origin,
                                 log_key=log_key(origin, authority_public_key)).checkpoint
    read: list[ConsistencyProof] = []
    for item in proofs:
        old, new, hashes = item["m"], item["n"], item["p"]
        if (not all(isinstance(x, int) and not isinstance(x, bool) for x in (old, new))
                or not 0 < old < new or new != checkpoint.size or not isinstance(hashes, list)
                or not all(isinstance(h, bytes) and len(h) == HASH_LENGTH for h in hashes)):
            raise ValueError(f"a consistency proof to size {checkpoint.size} is malformed")
        read.append(ConsistencyProof(old, new, tuple(hashes)))
    if len({p.old_size for p in read}) != len(read):
        raise IntegrityError("the bundle carries two consistency proofs from one size")
    return BundleLog(note, checkpoint, tuple(read))
