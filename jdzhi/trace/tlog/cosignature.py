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
from jdzhi.trace.tlog.note import NoteSignature, SignatureType, VerifierKey

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


def cosignature_of(signature: NoteSignature) -> Cosignature:
    """Read the timestamp of a cosignature line (without verifying it)."""
    if len(signature.signature) != _COSIGNATURE_LENGTH:
        raise InvalidInput(f"the cosignature by {signature.name} is {len(signature.signature)} "
                           f"bytes, not {_COSIGNATURE_LENGTH}")
    timestamp = int.from_bytes(signature.signature[:_TIMESTAMP_LENGTH], "big")
    if timestamp > MAX_TIMESTAMP:
        raise InvalidInput(f"the cosignature by {signature.name} has a timestamp above 2**63 - 1")
    return Cosignature(signature.name, signature.key_id, timestamp)


@dataclass(frozen=True)
class CosignatureVerifier:
    """Checks v1 cosignatures (type 0x04) of one witness key over checkpoint texts."""

    key: VerifierKey

    def __post_init__(self) -> None:
        self.key.require(SignatureType.COSIGNATURE_V1)

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != _COSIGNATURE_LENGTH:
            return False
        timestamp = int.from_bytes(signature[:_TIMESTAMP_LENGTH], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        return ed25519.verify(self.key.public_key, signature[_TIMESTAMP_LENGTH:],
                              signed_message(timestamp, text))


@dataclass(frozen=True, repr=False)
class Cosigner:
    """Cosigns checkpoint texts at ``timestamp`` (POSIX seconds) with an Ed25519 key
    (``secret`` is :func:`jdzhi.trace.ed25519.secret_key`)."""

    name: str
    secret: bytes
    timestamp: int

    def __post_init__(self) -> None:
        if not 0 <= self.timestamp <= MAX_TIMESTAMP:
            raise InvalidInput(f"a cosignature timestamp is between 0 and 2**63 - 1, "
                               f"not {self.timestamp}")

    @property
    def key(self) -> VerifierKey:
        return VerifierKey.of_secret(self.name, SignatureType.COSIGNATURE_V1, self.secret)

    def sign(self, text: bytes) -> bytes:
        message = signed_message(self.timestamp, text)
        return (self.timestamp.to_bytes(_TIMESTAMP_LENGTH, "big")
                + ed25519.sign(self.secret, message))
