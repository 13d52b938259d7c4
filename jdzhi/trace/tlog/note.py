"""C2SP signed notes (c2sp.org/signed-note): text signed by one or more keys.

A note is its text (UTF-8, ending in a newline, no control character but newline), a blank line,
then one line per signature: ``— <key name> <base64(key ID || signature)>``. The key ID is
``SHA-256(key name || 0x0A || signature type || public key)[:4]``, big-endian. Verifiers know
their keys out of band, as verifier keys ``<name>+<hex key ID>+<base64(type || public key)>``
(the *vkey* form of Go's ``golang.org/x/mod/sumdb/note``).

Verification follows the spec: a signature whose key name and ID match no known key is ignored;
one that matches a known key must verify, else the whole note is refused; a note with no
verified signature is refused. Ed25519 goes through :mod:`jdzhi.trace.ed25519` (libsodium, which
refuses small-order and non-canonical keys and ``R`` points as well as non-canonical ``S``).
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Literal, Protocol

from jdzhi.errors import InvalidInput
from jdzhi.trace import ed25519
from jdzhi.trace.tlog._encoding import (
    decode_base64,
    encode_base64,
    has_control_character,
    is_key_name,
    is_utf8_encodable,
)

__all__ = [
    "MAX_SIGNATURES",
    "Ed25519NoteSigner",
    "Ed25519NoteVerifier",
    "KeySigner",
    "KeyVerifier",
    "MalformedNote",
    "Note",
    "NoteCheck",
    "NoteFailure",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "SignatureType",
    "VerifierKey",
    "key_id",
    "parse_note",
    "sign_note",
    "verify_note",
]

#: the most signature lines a note may carry; the spec asks verifiers to accept at least 16, and
#: Go's ``note.Open`` refuses more than 100
MAX_SIGNATURES = 100
_SIGNATURE_PREFIX = "— "
_KEY_ID_LENGTH = 4


class SignatureType(IntEnum):
    """The signature types of c2sp.org/signed-note that jdzhi uses."""

    ED25519 = 0x01
    #: timestamped Ed25519 checkpoint cosignature, c2sp.org/tlog-cosignature
    COSIGNATURE_V1 = 0x04


class MalformedNote(InvalidInput):
    """Bytes or values that are not a signed note, a signature line or a verifier key."""


def key_id(name: str, signature_type: SignatureType, public_key: bytes) -> int:
    """SHA-256(key name || 0x0A || signature type || public key)[:4], as an unsigned integer."""
    material = name.encode("utf-8") + b"\n" + bytes([signature_type]) + public_key
    return int.from_bytes(hashlib.sha256(material).digest()[:_KEY_ID_LENGTH], "big")


def _check_key_name(name: str) -> None:
    if not is_key_name(name):
        raise MalformedNote(f"{name!r} is not a key name (empty, a space, a plus or a control "
                            "character)")


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key's name and ID and the signature bytes after the ID."""

    name: str
    key_id: int
    signature: bytes

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        if not 0 <= self.key_id < 2**32:
            raise MalformedNote(f"key ID {self.key_id} is not a 32-bit unsigned integer")
        if not self.signature:
            raise MalformedNote(f"the signature by {self.name} is empty")

    def line(self) -> str:
        """The signature line, newline included."""
        raw = self.key_id.to_bytes(_KEY_ID_LENGTH, "big") + self.signature
        return f"{_SIGNATURE_PREFIX}{self.name} {encode_base64(raw)}\n"


@dataclass(frozen=True)
class Note:
    """A note's text (final newline included) and its signatures, in order."""

    text: str
    signatures: tuple[NoteSignature, ...] = ()

    def __post_init__(self) -> None:
        if not self.text.endswith("\n"):
            raise MalformedNote("a note's text must end in a newline")
        if has_control_character(self.text) or not is_utf8_encodable(self.text):
            raise MalformedNote("a note's text must be UTF-8 with no control character but "
                                "newline")
        if len(self.signatures) > MAX_SIGNATURES:
            raise MalformedNote(f"a note has more than {MAX_SIGNATURES} signatures")

    def encode(self) -> bytes:
        """The note as it travels: text, blank line, signature lines."""
        return (self.text + "\n" + "".join(s.line() for s in self.signatures)).encode("utf-8")


def parse_note(data: bytes) -> Note:
    """Read a signed note; raise :class:`MalformedNote` saying what is wrong with it."""
    try:
        message = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedNote("a signed note must be UTF-8") from None
    if has_control_character(message):
        raise MalformedNote("a signed note may hold no control character but newline")
    split = message.rfind("\n\n")
    if split < 0:
        raise MalformedNote("a signed note needs a blank line before its signatures")
    text, block = message[: split + 1], message[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNote("a signed note must end with a signature line and a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"a signed note has more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(_parse_signature_line(line) for line in lines))


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise MalformedNote(f"{line[:40]!r} is not a signature line ('— name signature')")
    name, _, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    raw = decode_base64(encoded)
    if raw is None or len(raw) <= _KEY_ID_LENGTH:
        raise MalformedNote(f"the signature by {name!r} is not base64 of a key ID and a "
                            "signature")
    return NoteSignature(name, int.from_bytes(raw[:_KEY_ID_LENGTH], "big"),
                         raw[_KEY_ID_LENGTH:])


@dataclass(frozen=True)
class VerifierKey:
    """A public key as signed notes name it: key name, signature type and key bytes."""

    name: str
    signature_type: SignatureType
    public_key: bytes

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        if len(self.public_key) != ed25519.PUBLIC_KEY_LENGTH:
            raise MalformedNote(f"an Ed25519 public key is {ed25519.PUBLIC_KEY_LENGTH} bytes, "
                                f"not {len(self.public_key)}")

    @property
    def key_id(self) -> int:
        return key_id(self.name, self.signature_type, self.public_key)

    def vkey(self) -> str:
        """``<name>+<hex key ID>+<base64(type || public key)>``."""
        material = bytes([self.signature_type]) + self.public_key
        return f"{self.name}+{self.key_id:08x}+{encode_base64(material)}"

    def require(self, signature_type: SignatureType) -> None:
        """Refuse a key of another signature type than the one a verifier needs."""
        if self.signature_type is not signature_type:
            raise InvalidInput(f"key {self.name} is a {self.signature_type.name} key "
                               f"(type {self.signature_type:#04x}), not {signature_type.name} "
                               f"(type {signature_type:#04x})")

    @classmethod
    def of_secret(cls, name: str, signature_type: SignatureType, secret: bytes) -> VerifierKey:
        """The public side of a libsodium secret key (:func:`ed25519.secret_key`)."""
        if len(secret) != ed25519.SECRET_KEY_LENGTH:
            raise InvalidInput(f"an Ed25519 secret key is {ed25519.SECRET_KEY_LENGTH} bytes")
        return cls(name, signature_type, secret[-ed25519.PUBLIC_KEY_LENGTH :])

    @classmethod
    def parse(cls, vkey: str) -> VerifierKey:
        """Read a vkey; its key ID must be the one its name, type and key give."""
        name, _, rest = vkey.partition("+")
        hex_id, _, encoded = rest.partition("+")
        material = decode_base64(encoded)
        if len(hex_id) != 8 or any(c not in string.hexdigits for c in hex_id) or not material:
            raise MalformedNote(f"{vkey[:60]!r} is not a verifier key (name+hex id+base64 key)")
        try:
            signature_type = SignatureType(material[0])
        except ValueError:
            raise MalformedNote(f"verifier key {name!r} has unknown signature type "
                                f"{material[0]:#04x}") from None
        key = cls(name, signature_type, material[1:])
        if key.key_id != int(hex_id, 16):
            raise MalformedNote(f"verifier key {name!r}: key ID {hex_id} does not match its key")
        return key


class NoteVerifier(Protocol):
    """Checks the signatures of one key (of one signature type) over note texts."""

    @property
    def key(self) -> VerifierKey: ...

    def verify(self, text: bytes, signature: bytes) -> bool: ...


class NoteSigner(Protocol):
    """Signs note texts with one key (of one signature type)."""

    @property
    def key(self) -> VerifierKey: ...

    def sign(self, text: bytes) -> bytes: ...


@dataclass(frozen=True)
class KeyVerifier:
    """The start of a :class:`NoteVerifier`: one key, of the signature type the subclass names
    (a key of another type is refused)."""

    key: VerifierKey
    signature_type: ClassVar[SignatureType]

    def __post_init__(self) -> None:
        self.key.require(self.signature_type)


@dataclass(frozen=True, repr=False)
class KeySigner:
    """The start of a :class:`NoteSigner`: a key name and an Ed25519 secret
    (:func:`ed25519.secret_key`), signing as the signature type the subclass names."""

    name: str
    secret: bytes
    signature_type: ClassVar[SignatureType]

    @property
    def key(self) -> VerifierKey:
        return VerifierKey.of_secret(self.name, self.signature_type, self.secret)


@dataclass(frozen=True)
class Ed25519NoteVerifier(KeyVerifier):
    """Plain Ed25519 note signatures (type 0x01) over the note text."""

    signature_type = SignatureType.ED25519

    def verify(self, text: bytes, signature: bytes) -> bool:
        return ed25519.verify(self.key.public_key, signature, text)


@dataclass(frozen=True, repr=False)
class Ed25519NoteSigner(KeySigner):
    """Signs note texts with Ed25519 (type 0x01)."""

    signature_type = SignatureType.ED25519

    def sign(self, text: bytes) -> bytes:
        return ed25519.sign(self.secret, text)


def sign_note(note: Note | str, *signers: NoteSigner) -> Note:
    """The note with a signature by each signer added after its signatures (replacing any
    signature already there from the same key name and ID)."""
    if isinstance(note, str):
        note = Note(note)
    text = note.text.encode("utf-8")
    added = []
    for signer in signers:
        key = signer.key
        added.append(NoteSignature(key.name, key.key_id, signer.sign(text)))
    replaced = {(s.name, s.key_id) for s in added}
    kept = tuple(s for s in note.signatures if (s.name, s.key_id) not in replaced)
    return Note(note.text, kept + tuple(added))


NoteFailure = Literal["no-known-signature", "bad-signature"]


@dataclass(frozen=True)
class NoteCheck:
    """The outcome of :func:`verify_note`: ``failure`` is None when the note may be trusted."""

    verified: tuple[NoteSignature, ...]
    unknown: tuple[NoteSignature, ...]
    failure: NoteFailure | None
    detail: str

    @property
    def ok(self) -> bool:
        return self.failure is None


def verify_note(note: Note, verifiers: Sequence[NoteVerifier]) -> NoteCheck:
    """Check every signature of a known key (same name and key ID); ignore the others."""
    known: dict[tuple[str, int], NoteVerifier] = {}
    for verifier in verifiers:
        ident = (verifier.key.name, verifier.key.key_id)
        if ident in known:
            raise InvalidInput(f"two verifier keys are named {ident[0]} with key ID "
                               f"{ident[1]:08x}")
        known[ident] = verifier
    text = note.text.encode("utf-8")
    verified: list[NoteSignature] = []
    unknown: list[NoteSignature] = []
    for signature in note.signatures:
        signer_key = known.get((signature.name, signature.key_id))
        if signer_key is None:
            unknown.append(signature)
        elif not signer_key.verify(text, signature.signature):
            return NoteCheck(tuple(verified), tuple(unknown), "bad-signature",
                             f"the signature by {signature.name} "
                             f"({signature.key_id:08x}) does not verify")
        elif signature not in verified:
            verified.append(signature)
    if not verified:
        return NoteCheck((), tuple(unknown), "no-known-signature",
                         "the note has no signature by a known key")
    return NoteCheck(tuple(verified), tuple(unknown), None, "verified")
