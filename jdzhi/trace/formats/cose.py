"""COSE_Sign1 (RFC 9052 §4.2) with EdDSA over Ed25519, on deterministic CBOR (RFC 8949 §4.2).

Only what jdzhi needs, and strict: a message is accepted only in its one canonical encoding
(tag 18, deterministic CBOR throughout, a protected header of exactly ``{1: -8, 3: content type,
4: kid}``, an empty unprotected header, an embedded payload and a 64-byte signature). Anything else
raises :class:`CoseError`. Signing and verifying take plain callables / raw public keys so that this
module stays free of key management.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cbor2

from jdzhi.trace import ed25519

__all__ = [
    "ALG_EDDSA",
    "COSE_SIGN1_TAG",
    "HEADER_ALG",
    "HEADER_CONTENT_TYPE",
    "HEADER_KID",
    "MAX_MESSAGE_BYTES",
    "SIGNATURE_LENGTH",
    "CoseError",
    "Sign1",
    "Sign1Form",
    "cbor_head",
    "decode_sign1",
    "dumps",
    "loads_canonical",
    "protected_header",
    "sig_structure",
    "sign1",
    "sign1_form",
    "verify_sign1",
]

#: COSE header labels and the EdDSA algorithm identifier (RFC 9052 §3.1, RFC 9053 §2.2)
HEADER_ALG = 1
HEADER_CONTENT_TYPE = 3
HEADER_KID = 4
ALG_EDDSA = -8
COSE_SIGN1_TAG = 18
SIGNATURE_LENGTH = 64

#: a decoder refuses anything larger (a trust bundle of thousands of keys is far smaller)
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class CoseError(ValueError):
    """The bytes are not a canonical jdzhi COSE_Sign1 message (or not CBOR at all)."""


def dumps(value: Any) -> bytes:
    """Deterministic CBOR (RFC 8949 §4.2.1: shortest forms, definite lengths, sorted map keys)."""
    return bytes(cbor2.dumps(value, canonical=True))


def loads_canonical(data: bytes, *, what: str) -> Any:
    """Decode CBOR that must be in its deterministic encoding: re-encoding gives the same bytes."""
    value = _loads(data, what=what)
    _require_canonical(value, data, what=what)
    return value


def _loads(data: bytes, *, what: str) -> Any:
    if len(data) > MAX_MESSAGE_BYTES:
        raise CoseError(f"{what} is larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        return cbor2.loads(data, allow_duplicate_keys=False, allow_indefinite=False,
                           max_depth=16)
    except Exception as error:  # cbor2 raises several types, all meaning "not valid CBOR"
        raise CoseError(f"{what} is not valid CBOR ({error})") from None


def _require_canonical(value: Any, data: bytes, *, what: str) -> None:
    """CoseError unless ``data`` is the deterministic encoding of ``value`` (decoded from it)."""
    try:
        again = dumps(value)
    except Exception as error:
        raise CoseError(f"{what} holds values jdzhi does not use ({error})") from None
    if again != data:
        raise CoseError(f"{what} is not in deterministic CBOR encoding")


def cbor_head(major: int, value: int) -> bytes:
    """The deterministic (shortest) head of a CBOR item of major type ``major`` (0: unsigned
    integer ``value``; 2: byte string of ``value`` bytes...)."""
    kind = major << 5
    if value < 24:
        return bytes([kind | value])
    if value < 0x100:
        return bytes([kind | 24, value])
    if value < 0x10000:
        return bytes([kind | 25]) + value.to_bytes(2, "big")
    if value < 0x1_0000_0000:
        return bytes([kind | 26]) + value.to_bytes(4, "big")
    return bytes([kind | 27]) + value.to_bytes(8, "big")


def _bstr(data: bytes) -> bytes:
    """A CBOR byte string in its deterministic (shortest-length) encoding."""
    return cbor_head(2, len(data)) + data


#: deterministic CBOR of the array header (4 items) and the text "Signature1"
_SIG_STRUCTURE_HEAD = b"\x84\x6aSignature1"


def sig_structure(protected: bytes, external_aad: bytes, payload: bytes) -> bytes:
    """The bytes an Ed25519 signature covers: ``["Signature1", protected, aad, payload]``
    (deterministic CBOR, built directly: verification's hot path)."""
    return _sig_structure_head(protected, external_aad) + _bstr(payload)


def _sig_structure_head(protected: bytes, external_aad: bytes) -> bytes:
    """What :func:`sig_structure` holds before the payload."""
    return _SIG_STRUCTURE_HEAD + _bstr(protected) + _bstr(external_aad)


@lru_cache(maxsize=1024)
def protected_header(content_type: str, kid: bytes) -> bytes:
    return dumps({HEADER_ALG: ALG_EDDSA, HEADER_CONTENT_TYPE: content_type, HEADER_KID: kid})


@dataclass(frozen=True)
class Sign1:
    """A decoded COSE_Sign1 message whose structure (not yet its signature) has been checked."""

    protected: bytes
    content_type: str
    kid: bytes
    payload: bytes
    signature: bytes

    def to_be_signed(self, external_aad: bytes) -> bytes:
        return sig_structure(self.protected, external_aad, self.payload)


def sign1(
    *,
    content_type: str,
    kid: bytes,
    payload: bytes,
    external_aad: bytes,
    sign: Callable[[bytes], bytes],
) -> bytes:
    """Build a tagged COSE_Sign1 message; ``sign`` is an Ed25519 private key's ``sign``."""
    form = sign1_form(content_type, kid, external_aad)
    return form.message(payload, sign(form.to_be_signed(payload)))


@dataclass(frozen=True)
class Sign1Form:
    """What the COSE_Sign1 messages of one content type, kid and external AAD share: both the
    bytes a signature covers and the message are a fixed head, the payload and (for the message)
    the signature, so that signing many records encodes nothing but their payloads."""

    to_be_signed_head: bytes
    message_head: bytes

    def to_be_signed(self, payload: bytes) -> bytes:
        """:func:`sig_structure` of ``payload``."""
        return self.to_be_signed_head + _bstr(payload)

    def message(self, payload: bytes, signature: bytes) -> bytes:
        return self.message_head + _bstr(payload) + _bstr(signature)


@lru_cache(maxsize=1024)
def sign1_form(content_type: str, kid: bytes, external_aad: bytes) -> Sign1Form:
    protected = protected_header(content_type, kid)
    return Sign1Form(to_be_signed_head=_sig_structure_head(protected, external_aad),
                     message_head=_message_head(protected))


def _message_head(protected: bytes) -> bytes:
    """What a COSE_Sign1 message holds before its payload, in deterministic CBOR: tag 18
    (0xd2), an array of 4 (0x84), the protected bstr, an empty map (0xa0)."""
    return b"\xd2\x84" + _bstr(protected) + b"\xa0"


def decode_sign1(data: bytes, *, what: str = "message") -> Sign1:
    """Parse a COSE_Sign1 message strictly (structure only; see :func:`verify_sign1`).

    A well-formed message is checked to be canonical by building its one deterministic encoding
    from its parts, cheaper than re-encoding the decoded value; the reasons for refusing any
    message are those of :func:`loads_canonical` first, then of the structure."""
    value = _loads(data, what=what)
    try:
        message = _sign1_of(value, what)
    except CoseError:
        _require_canonical(value, data, what=what)
        raise
    if (_message_head(message.protected) + _bstr(message.payload)
            + _bstr(message.signature)) != data:
        raise CoseError(f"{what} is not in deterministic CBOR encoding")
    return message


def _sign1_of(value: Any, what: str) -> Sign1:
    if not isinstance(value, cbor2.CBORTag) or value.tag != COSE_SIGN1_TAG:
        raise CoseError(f"{what} is not a tagged COSE_Sign1 message")
    body = value.value
    if not isinstance(body, list | tuple) or len(body) != 4:
        raise CoseError(f"{what} is not a COSE_Sign1 array of four elements")
    protected, unprotected, payload, signature = body
    if not isinstance(protected, bytes) or not isinstance(payload, bytes):
        raise CoseError(f"{what} has a protected header or payload that is not a byte string")
    if not isinstance(unprotected, Mapping) or unprotected:
        raise CoseError(f"{what} must have an empty unprotected header")
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_LENGTH:
        raise CoseError(f"{what} does not carry a 64-byte Ed25519 signature")
    content_type, kid = _protected_fields(protected, what)
    return Sign1(protected, content_type, kid, payload, signature)


@lru_cache(maxsize=1024)
def _protected_fields(protected: bytes, what: str) -> tuple[str, bytes]:
    """(content type, kid) of a protected header (the messages of one signer share it)."""
    header = loads_canonical(protected, what=f"{what}'s protected header")
    if not isinstance(header, Mapping) or set(header) != {HEADER_ALG, HEADER_CONTENT_TYPE,
                                                        HEADER_KID}:
        raise CoseError(f"{what}'s protected header must hold exactly alg, content type and kid")
    if header[HEADER_ALG] != ALG_EDDSA:
        raise CoseError(f"{what} is not signed with EdDSA (alg -8)")
    content_type, kid = header[HEADER_CONTENT_TYPE], header[HEADER_KID]
    if not isinstance(content_type, str) or not isinstance(kid, bytes):
        raise CoseError(f"{what}'s content type or kid has the wrong type")
    return content_type, kid


def verify_sign1(message: Sign1, public_key: bytes, external_aad: bytes) -> bool:
    """True when ``message`` carries a valid Ed25519 signature by ``public_key``."""
    return ed25519.verify(public_key, message.signature, message.to_be_signed(external_aad))
