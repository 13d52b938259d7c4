"""C2SP transparency-log checkpoints (c2sp.org/tlog-checkpoint): a signed tree head as a note.

The checkpoint text is three or more non-empty lines, each ending in a newline: the log's
origin, the tree size in decimal (no leading zero; ``0`` for the empty tree), the base64 root
hash of the RFC 9162 tree at that size, then optional extension lines. The log signs it as a
signed note (its key name is the origin); witnesses add v1 cosignatures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from jdzhi.errors import IntegrityError, InvalidInput
from jdzhi.trace.tlog._encoding import decode_base64, encode_base64, has_control_character
from jdzhi.trace.tlog.cosignature import Cosignature, CosignatureVerifier, cosignature_of
from jdzhi.trace.tlog.merkle import HASH_LENGTH, MAX_TREE_SIZE
from jdzhi.trace.tlog.note import (
    Ed25519NoteVerifier,
    Note,
    NoteVerifier,
    VerifierKey,
    parse_note,
    verify_note,
)

__all__ = [
    "Checkpoint",
    "MalformedCheckpoint",
    "OpenedCheckpoint",
    "open_checkpoint",
    "parse_checkpoint",
]

_DECIMAL = re.compile(r"0|[1-9][0-9]*", re.ASCII)


class MalformedCheckpoint(InvalidInput):
    """Text that is not a checkpoint body."""


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, tree size, root hash, and extension lines (rarely any)."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for what, line in (("origin", self.origin),
                           *(("extension line", x) for x in self.extensions)):
            if not line or "\n" in line or has_control_character(line):
                raise MalformedCheckpoint(f"a checkpoint {what} must be one non-empty line "
                                          "with no control character")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedCheckpoint(f"tree size {self.size} is not between 0 and "
                                      f"{MAX_TREE_SIZE}")
        if len(self.root_hash) != HASH_LENGTH:
            raise MalformedCheckpoint(f"a root hash is {HASH_LENGTH} bytes, "
                                      f"not {len(self.root_hash)}")

    def text(self) -> str:
        """The checkpoint's note text, final newline included."""
        lines = (self.origin, str(self.size), encode_base64(self.root_hash), *self.extensions)
        return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """Read a checkpoint body strictly; raise :class:`MalformedCheckpoint` saying why not."""
    if not text.endswith("\n"):
        raise MalformedCheckpoint("a checkpoint ends in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedCheckpoint("a checkpoint has an origin, a tree size and a root hash line")
    origin, size, encoded_root, *extensions = lines
    if not _DECIMAL.fullmatch(size):
        raise MalformedCheckpoint(f"tree size {size[:30]!r} is not a decimal number without "
                                  "leading zeros")
    root_hash = decode_base64(encoded_root)
    if root_hash is None:
        raise MalformedCheckpoint(f"root hash {encoded_root[:60]!r} is not base64")
    if len(size) > len(str(MAX_TREE_SIZE)):
        raise MalformedCheckpoint(f"tree size {size[:30]}... is too large")
    return Checkpoint(origin, int(size), root_hash, tuple(extensions))


@dataclass(frozen=True)
class OpenedCheckpoint:
    """A checkpoint whose log signature verified, and the witnesses' cosignatures that did."""

    checkpoint: Checkpoint
    note: Note
    cosignatures: tuple[Cosignature, ...]


def open_checkpoint(data: bytes, *, origin: str, log_key: VerifierKey,
                    witness_keys: Sequence[VerifierKey] = ()) -> OpenedCheckpoint:
    """Read a signed checkpoint of the log ``origin`` and check it.

    The log's Ed25519 signature must verify; every cosignature by a known witness (a type 0x04
    key) must verify too, or the whole note is refused; other signatures are ignored. Counting
    cosignatures towards a quorum is the caller's policy. Raises :class:`InvalidInput` for bytes
    that are no checkpoint and :class:`IntegrityError` for a signature or origin that fails.
    """
    note = parse_note(data)
    checkpoint = parse_checkpoint(note.text)
    if checkpoint.origin != origin:
        raise IntegrityError(f"the checkpoint is of log {checkpoint.origin!r}, not {origin!r}")
    verifiers: list[NoteVerifier] = [Ed25519NoteVerifier(log_key)]
    verifiers += [CosignatureVerifier(key) for key in witness_keys]
    check = verify_note(note, verifiers)
    if not check.ok:
        raise IntegrityError(f"checkpoint of {origin}: {check.detail}")
    log_ident = (log_key.name, log_key.key_id)
    if not any((s.name, s.key_id) == log_ident for s in check.verified):
        raise IntegrityError(f"checkpoint of {origin}: no signature by the log's key "
                             f"{log_key.name}")
    cosignatures = tuple(cosignature_of(s) for s in check.verified
                         if (s.name, s.key_id) != log_ident)
    return OpenedCheckpoint(checkpoint, note, cosignatures)
