"""Testing centers as witnesses of the registry's log (C2SP tlog-cosignature, v1).

A testing center cosigns a bundle's checkpoint with its certified lab key, under the key name
``jdzhi/lab/<key id>``, after checking the checkpoint against every one it accepted before
(``jdzhi lab witness``). The center adds those cosignature lines to the checkpoint of its next
export of the same log (``jdzhi trust export --cosignature FILE``), and a verifier can require
them (``--witness KEY``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from jdzhi.errors import InvalidInput
from jdzhi.inputs import read_text_file
from jdzhi.timeutil import unix_time
from jdzhi.trace.tlog.cosignature import CosignatureVerifier, Cosigner
from jdzhi.trace.tlog.note import (
    MalformedNote,
    Note,
    NoteSignature,
    SignatureType,
    VerifierKey,
    parse_note,
    sign_note,
)
from jdzhi.trace.trust.model import TrustedKey

__all__ = [
    "add_cosignatures",
    "cosignature_line",
    "read_cosignatures",
    "witness_key",
    "witness_keys_of",
]

_NAME_PREFIX = "jdzhi/lab/"


def witness_key(key: TrustedKey) -> VerifierKey:
    """The cosignature key of a certified lab key."""
    return VerifierKey(f"{_NAME_PREFIX}{key.key_id}", SignatureType.COSIGNATURE_V1,
                       key.public_key)


def cosignature_line(note: bytes, lab_key: TrustedKey, secret: bytes, moment: datetime) -> str:
    """The signature line of a cosignature of ``note``'s checkpoint at ``moment``."""
    cosigner = Cosigner(witness_key(lab_key).name, secret, unix_time(moment))
    return sign_note(parse_note(note).text, cosigner).signatures[-1].line()


def _lab_key_named(name: str, keys: Mapping[int, TrustedKey]) -> TrustedKey | None:
    number = name.removeprefix(_NAME_PREFIX)
    if name == number or not number.isdigit() or number.startswith("0"):
        return None
    key = keys.get(int(number))
    return key if key is not None and key.role == "lab" else None


#: a stand-in checkpoint text, to read cosignature lines before the checkpoint is signed
_ANY_TEXT = "checkpoint to come\n"


def read_cosignatures(files: Sequence[Path], keys: Mapping[int, TrustedKey]
                      ) -> tuple[tuple[Path, NoteSignature], ...]:
    """The cosignature lines of ``files`` (from ``jdzhi lab witness``), each by a certified lab
    key: read and checked before anything is signed (whether each is of the new checkpoint is
    :func:`add_cosignatures`'s to say)."""
    lines: list[tuple[Path, NoteSignature]] = []
    for path in files:
        text = read_text_file(path)
        try:
            found = parse_note((_ANY_TEXT + "\n" + text).encode()).signatures
        except MalformedNote as error:
            raise InvalidInput(f"{path} is not a cosignature line: {error.message}") from None
        for line in found:
            if _lab_key_named(line.name, keys) is None:
                raise InvalidInput(f"{path}: {line.name} is not a certified testing-center key")
            lines.append((path, line))
    return tuple(lines)


def add_cosignatures(note: bytes, lines: Sequence[tuple[Path, NoteSignature]],
                     keys: Mapping[int, TrustedKey]) -> bytes:
    """``note`` with the cosignature ``lines`` (:func:`read_cosignatures`) added; each must
    verify over this very checkpoint."""
    opened = parse_note(note)
    for path, line in lines:
        lab_key = _lab_key_named(line.name, keys)
        if lab_key is None or not CosignatureVerifier(witness_key(lab_key)).verify(
                opened.text.encode(), line.signature):
            raise InvalidInput(
                f"{path}: the cosignature by {line.name} is not of this checkpoint (the "
                "log has grown since it was witnessed): export, have the new bundle "
                "witnessed, and export again before the registry changes")
    return Note(opened.text, opened.signatures + tuple(line for _, line in lines)).encode()


def witness_keys_of(texts: Sequence[str], keys: Mapping[int, TrustedKey]) -> list[VerifierKey]:
    """Witness keys a verifier requires: each a vkey (type 0x04), or a public key (base64url,
    hex or a PEM file) of a lab key the trust certifies."""
    from jdzhi.trace.keys.keyfile import read_public_key

    found = []
    for text in texts:
        if text.count("+") == 2 and not Path(text).exists():
            key = VerifierKey.parse(text.strip())
            key.require(SignatureType.COSIGNATURE_V1)
        else:
            public_key = read_public_key(text)
            lab = next((k for k in keys.values()
                        if k.role == "lab" and k.public_key == public_key), None)
            if lab is None:
                raise InvalidInput(f"witness key {text[:60]} is not a testing-center key this "
                                   "trust certifies; give its vkey instead")
            key = witness_key(lab)
        found.append(key)
    return found
