"""C2SP checkpoint cosignatures, v1 Ed25519 (c2sp.org/tlog-cosignature): witnesses countersign.

A cosignature is a note signature of type 0x04 on a checkpoint. Its key ID is
``SHA-256(name || 0x0A || 0x04 || public key)[:4]`` and its signature bytes are the
``timestamped_signature``: the POSIX timestamp as a big-endian u64 (at most 2**63 - 1), then the
64-byte Ed25519 signature of::

    cosignature/v1
    time <timestamp, decimal, no leading zero>
    <the whole checkpoint text, final newline included>

The witness states that, at that time, this is the largest tree consistent with everything it has
seen of the log. The caller supplies the time: this module reads no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from jdzhi.errors import InvalidInput
from jdzhi.trace import ed25519
from jdzhi.trace.tlog.note import KeySigner, KeyVerifier, NoteSignature, SignatureType

__all__ = [
    "COSIGNATURE_HEADER",
    "MAX_TIMESTAMP",
    "Cosignature",
    "CosignatureVerifier",
    "Cosigner",
    "cosignature_of",
    "signed_message",
]

COSIGNATURE_HEADER = b"cosignature/v1\n"
MAX_TIMESTAMP = 2**63 - 1
_TIMESTAMP_LENGTH = 8
_COSIGNATURE_LENGTH = _TIMESTAMP_LENGTH + ed25519.SIGNATURE_LENGTH


def signed_message(timestamp: int, checkpoint_text: bytes) -> bytes:
    """The bytes a v1 cosignature signs."""
    return COSIGNATURE_HEADER + b"time %d\n" % timestamp + checkpoint_text


@dataclass(frozen=True)
class Cosignature:
    """A verified (or just read) cosignature: who, and when they say they signed."""

    name: str
    key_id: int
    timestamp: int


def _timestamp(signature: bytes) -> int | None:
    """The timestamp of a ``timestamped_signature``, or None when it is not one (another
    length, or a time above :data:`MAX_TIMESTAMP`)."""
    if len(signature) != _COSIGNATURE_LENGTH:
        return None
    timestamp = int.from_bytes(signature[:_TIMESTAMP_LENGTH], "big")
    return timestamp if timestamp <= MAX_TIMESTAMP else None


def cosignature_of(signature: NoteSignature) -> Cosignature:
    """Read the timestamp of a cosignature line (without verifying it)."""
    timestamp = _timestamp(signature.signature)
    if timestamp is None:
        raise InvalidInput(f"the cosignature by {signature.name} is not {_COSIGNATURE_LENGTH} "
                           "bytes of a timestamp (at most 2**63 - 1) and a signature")
    return Cosignature(signature.name, signature.key_id, timestamp)


@dataclass(frozen=True)
class CosignatureVerifier(KeyVerifier):
    """Checks v1 cosignatures (type 0x04) of one witness key over checkpoint texts."""

    signature_type = SignatureType.COSIGNATURE_V1

    def verify(self, text: bytes, signature: bytes) -> bool:
        timestamp = _timestamp(signature)
        return timestamp is not None and ed25519.verify(
            self.key.public_key, signature[_TIMESTAMP_LENGTH:], signed_message(timestamp, text))


@dataclass(frozen=True, repr=False)
class Cosigner(KeySigner):
    """Cosigns checkpoint texts at ``timestamp`` (POSIX seconds) with an Ed25519 key."""

    signature_type = SignatureType.COSIGNATURE_V1
    timestamp: int

    def __post_init__(self) -> None:
        if not 0 <= self.timestamp <= MAX_TIMESTAMP:
            raise InvalidInput(f"a cosignature timestamp is between 0 and 2**63 - 1, "
                               f"not {self.timestamp}")

    def sign(self, text: bytes) -> bytes:
        message = signed_message(self.timestamp, text)
        return (self.timestamp.to_bytes(_TIMESTAMP_LENGTH, "big")
                + ed25519.sign(self.secret, message))
