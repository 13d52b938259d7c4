"""The label form of a product record (docs/format.md): 77 bytes, ``header (13) || Ed25519
signature (64)``, the signature covering ``b"jdzhi/label/1" || 0x00 || header``.

Its text is ``BASE + base32(payload)`` (124 base32 characters), an uppercase URL that fits QR
version 6 at level M in alphanumeric mode. Pure: no database, no files, no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jdzhi.trace.formats.base32 import base32_decode, base32_encode
from jdzhi.trace.formats.common import (
    MAX_CATEGORY_CODE,
    MAX_KEY_ID,
    MAX_SERIAL,
    MAX_SIGNED_AT,
    FormatError,
    LabelError,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "LABEL_DOMAIN",
    "LABEL_HEADER_LENGTH",
    "LABEL_PAYLOAD_CHARS",
    "LABEL_PAYLOAD_LENGTH",
    "LABEL_VERSION",
    "MAX_BASE_LENGTH",
    "Label",
    "LabelFields",
    "check_base_url",
    "decode_label_payload",
    "decode_label_text",
    "split_label_text",
]

LABEL_VERSION = 1


LABEL_HEADER_LENGTH = 13


LABEL_PAYLOAD_LENGTH = LABEL_HEADER_LENGTH + 64


LABEL_DOMAIN = b"jdzhi/label/1\x00"


#: where a label header holds the serial
_LABEL_SERIAL = slice(3, 8)


_LABEL_SERIAL_BYTES = _LABEL_SERIAL.stop - _LABEL_SERIAL.start


#: base32 characters of a version-1 label payload (77 bytes = 616 bits = 123 chars + 1 bit)
LABEL_PAYLOAD_CHARS = 124


DEFAULT_BASE_URL = "HTTPS://TRACE.EXAMPLE.CN/V/"


#: the longest base that keeps BASE + 124 base32 characters within QR version 6-M (154 chars)
MAX_BASE_LENGTH = 30


_BASE_PATTERN = re.compile(r"HTTPS?://[A-Z0-9.-]+(:[0-9]{1,5})?/([A-Z0-9.-]+/)*")




def check_base_url(base: str) -> str:
    """A label base must be an uppercase http(s) URL ending in ``/``, at most 30 characters."""
    if not _BASE_PATTERN.fullmatch(base):
        raise FormatError(
            f"label base URL {base!r} must be an uppercase URL such as {DEFAULT_BASE_URL} "
            "(letters, digits, '.', '-', ending in '/')"
        )
    if len(base) > MAX_BASE_LENGTH:
        raise FormatError(
            f"label base URL {base!r} is {len(base)} characters; at most {MAX_BASE_LENGTH} keep "
            "the QR code at version 6-M"
        )
    return base


@dataclass(frozen=True)
class LabelFields:
    """What a label says (its 13-byte header), before or without the signature."""

    key_id: int
    serial: int
    signed_at: int
    category: int

    def __post_init__(self) -> None:
        if not 1 <= self.key_id <= MAX_KEY_ID:
            raise LabelError(f"key id {self.key_id} is outside 1..{MAX_KEY_ID}")
        if not 1 <= self.serial <= MAX_SERIAL:
            raise LabelError(f"serial {self.serial} is outside 1..{MAX_SERIAL}")
        if not 0 <= self.signed_at <= MAX_SIGNED_AT:
            raise LabelError(f"signing time {self.signed_at} does not fit 32 bits")
        if not 1 <= self.category <= MAX_CATEGORY_CODE:
            raise LabelError(f"category code {self.category} is outside 1..{MAX_CATEGORY_CODE}")

    def header(self) -> bytes:
        return (
            bytes([LABEL_VERSION])
            + self.key_id.to_bytes(2, "big")
            + self.serial.to_bytes(_LABEL_SERIAL_BYTES, "big")
            + self.signed_at.to_bytes(4, "big")
            + bytes([self.category])
        )

    def signing_input(self) -> bytes:
        return LABEL_DOMAIN + self.header()


@dataclass(frozen=True)
class Label:
    fields: LabelFields
    signature: bytes

    def payload(self) -> bytes:
        return self.fields.header() + self.signature

    def text(self, base: str) -> str:
        return base + base32_encode(self.payload())


def decode_label_payload(payload: bytes) -> Label:
    if len(payload) != LABEL_PAYLOAD_LENGTH:
        raise LabelError(f"a label payload is {LABEL_PAYLOAD_LENGTH} bytes, not {len(payload)}")
    if payload[0] != LABEL_VERSION:
        raise LabelError(f"label format version {payload[0]} is not supported (only 1)")
    fields = LabelFields(
        key_id=int.from_bytes(payload[1:3], "big"),
        serial=int.from_bytes(payload[_LABEL_SERIAL], "big"),
        signed_at=int.from_bytes(payload[8:12], "big"),
        category=payload[12],
    )
    return Label(fields, payload[LABEL_HEADER_LENGTH:])


def split_label_text(text: str, bases: tuple[str, ...]) -> tuple[str, str]:
    """Split a label text into (base, payload text); the base is the longest of ``bases`` the
    text starts with (a payload holds no ``/``, so of two bases one a prefix of the other, only
    the longer can leave a payload)."""
    matching = [base for base in bases if text.startswith(base)]
    if matching:
        base = max(matching, key=len)
        return base, text[len(base):]
    shown = text if len(text) <= 60 else text[:57] + "..."
    raise LabelError(f"{shown!r} does not start with a known label base ({', '.join(bases)})")


def decode_label_text(text: str, bases: tuple[str, ...]) -> Label:
    """Decode a label text strictly: known base, exactly 124 canonical base32 characters."""
    _, payload_text = split_label_text(text, bases)
    if len(payload_text) != LABEL_PAYLOAD_CHARS:
        raise LabelError(
            f"the label payload is {len(payload_text)} characters, not {LABEL_PAYLOAD_CHARS}"
        )
    return decode_label_payload(base32_decode(payload_text))
