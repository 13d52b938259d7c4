"""What every signed format of jdzhi shares: the version, content types and AADs, and field checks.

See docs/format.md. Pure: no database, no files, no clock.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

__all__ = [
    "CONTENT_TYPES",
    "FORMAT_VERSION",
    "MAX_CATEGORY_CODE",
    "MAX_KEY_ID",
    "MAX_SERIAL",
    "MAX_SIGNED_AT",
    "SERIAL_PATTERN",
    "WARE_CLASSES",
    "FormatError",
    "LabelError",
    "as_int",
    "as_text",
    "authority_kid",
    "external_aad",
    "key_kid",
    "parse_serial",
]

FORMAT_VERSION = 1


CONTENT_TYPES = {
    "record": "application/vnd.jdzhi.record+cbor",
    "cert": "application/vnd.jdzhi.cert+cbor",
    "endorsement": "application/vnd.jdzhi.endorsement+cbor",
    "bundle": "application/vnd.jdzhi.bundle+cbor",
}


def as_int(value: Any) -> int:
    """A decoded CBOR field that must be an integer (``bool`` is not): TypeError otherwise."""
    if type(value) is not int:
        raise TypeError(f"{value!r} is not an integer")
    return value


def as_text(value: Any) -> str:
    """A decoded CBOR field that must be text: TypeError otherwise."""
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    return value


def external_aad(kind: str) -> bytes:
    """The external AAD of a kind of COSE message: ``b"jdzhi/<kind>/1"``."""
    assert kind in CONTENT_TYPES
    return f"jdzhi/{kind}/{FORMAT_VERSION}".encode()


#: a serial is a positive decimal integer written without leading zeros, at most 12 digits
SERIAL_PATTERN = re.compile(r"[1-9][0-9]{0,11}")


MAX_SERIAL = 999_999_999_999


MAX_KEY_ID = 0xFFFF


MAX_CATEGORY_CODE = 0xFF


MAX_SIGNED_AT = 0xFFFF_FFFF


#: the ware classes of GB 4806.4-2016: a record's ``w`` and an endorsement result's ``w``
WARE_CLASSES = ("flat", "small-hollow", "large-hollow", "cups", "storage", "cookware")


def parse_serial(text: str) -> int:
    """The number a label carries for a serial; only the canonical digits are accepted."""
    if not SERIAL_PATTERN.fullmatch(text):
        raise FormatError(
            f"serial {text!r} is not 1 to 12 decimal digits without a leading zero"
        )
    return int(text)


def key_kid(key_id: int) -> bytes:
    """The COSE kid of a licensee or lab key: its key id as 2 bytes, big-endian."""
    return key_id.to_bytes(2, "big")


def authority_kid(public_key: bytes) -> bytes:
    """The COSE kid of the authority key: the first 8 bytes of SHA-256 of its raw public key."""
    return hashlib.sha256(public_key).digest()[:8]


class FormatError(ValueError):
    """A value that breaks a rule of the signed formats (docs/format.md); callers that take
    the value from people say so in their own terms (``jdzhi.errors.InvalidInput``)."""


class LabelError(FormatError):
    """A label text or payload that is not in the canonical version-1 form."""
