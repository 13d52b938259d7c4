"""The signed formats of jdzhi, version 1, as specified in docs/format.md (pure: no database).

Two forms of a product record:

- the **label**: 77 bytes, ``header (13) || Ed25519 signature (64)``, the signature covering
  ``b"jdzhi/label/1" || 0x00 || header``; its text is ``BASE + base32(payload)`` (RFC 4648 base32,
  uppercase, no padding: 124 characters), an uppercase URL that fits QR version 6 at level M in
  alphanumeric mode;
- the **full record**: a COSE_Sign1 message (see :mod:`jdzhi.trace.formats.cose`) over a deterministic CBOR
  map, content type ``application/vnd.jdzhi.record+cbor``, external AAD ``b"jdzhi/record/1"``.

Certificates, lab endorsements and the trust bundle are COSE_Sign1 messages of their own content
types and external AADs, so that no signature of one kind can pass for another.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from jdzhi.errors import InvalidInput

if TYPE_CHECKING:
    from jdzhi.trace.formats.cose import Sign1, Sign1Form

FORMAT_VERSION = 1

# ---------------------------------------------------------------------------------------------
# kinds of signed object: content type (COSE header 3) and external AAD, one pair per kind

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


# ---------------------------------------------------------------------------------------------
# serials, key ids, categories

#: a serial is a positive decimal integer written without leading zeros, at most 12 digits
SERIAL_PATTERN = re.compile(r"[1-9][0-9]{0,11}")
MAX_SERIAL = 999_999_999_999
MAX_KEY_ID = 0xFFFF
MAX_CATEGORY_CODE = 0xFF
MAX_SIGNED_AT = 0xFFFF_FFFF


def parse_serial(text: str) -> int:
    """The number a label carries for a serial; only the canonical digits are accepted."""
    if not SERIAL_PATTERN.fullmatch(text):
        raise InvalidInput(
            f"serial {text!r} is not 1 to 12 decimal digits without a leading zero"
        )
    return int(text)


def key_kid(key_id: int) -> bytes:
    """The COSE kid of a licensee or lab key: its key id as 2 bytes, big-endian."""
    return key_id.to_bytes(2, "big")


def authority_kid(public_key: bytes) -> bytes:
    """The COSE kid of the authority key: the first 8 bytes of SHA-256 of its raw public key."""
    import hashlib

    return hashlib.sha256(public_key).digest()[:8]


def unix_time(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp())


def from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# ---------------------------------------------------------------------------------------------
# the label form

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
_BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_BASE32_VALUE = {char: index for index, char in enumerate(_BASE32_ALPHABET)}
_BASE32_TEXT = re.compile("[A-Z2-7]*")
_TO_INT_DIGITS = str.maketrans(_BASE32_ALPHABET, "0123456789abcdefghijklmnopqrstuv")
_BASE32_BYTES = _BASE32_ALPHABET.encode().ljust(256, b"\0")


class LabelError(ValueError):
    """A label text or payload that is not in the canonical version-1 form."""


def check_base_url(base: str) -> str:
    """A label base must be an uppercase http(s) URL ending in ``/``, at most 30 characters."""
    if not _BASE_PATTERN.fullmatch(base):
        raise InvalidInput(
            f"label base URL {base!r} must be an uppercase URL such as {DEFAULT_BASE_URL} "
            "(letters, digits, '.', '-', ending in '/')"
        )
    if len(base) > MAX_BASE_LENGTH:
        raise InvalidInput(
            f"label base URL {base!r} is {len(base)} characters; at most {MAX_BASE_LENGTH} keep "
            "the QR code at version 6-M"
        )
    return base


def base32_encode(data: bytes) -> str:
    """RFC 4648 base32, uppercase, without padding.

    ``base64.b32encode`` is pure Python before 3.13 and was the largest cost of a signed record
    after its signatures, so this spreads the 5-bit groups of one big integer into bytes in a
    few whole-number steps (:func:`_base32_spread`) and maps the bytes to the alphabet.
    """
    bits = 8 * len(data)
    chars = -(-bits // 5)
    if not chars:
        return ""
    width, steps = _base32_spread(chars)
    value = int.from_bytes(data, "big") << (5 * chars - bits)
    for low, high, shift in steps:
        value = (value & low) | ((value & high) << shift)
    return value.to_bytes(width, "big")[width - chars:].translate(_BASE32_BYTES).decode("ascii")


@lru_cache(maxsize=16)
def _base32_spread(chars: int) -> tuple[int, tuple[tuple[int, int, int], ...]]:
    """How to move ``chars`` 5-bit groups, packed in an integer, one per byte: halve the blocks
    of groups again and again (``width`` groups, a power of two, the top ones zero), each time
    shifting the upper half of every block up by 3 bits per group it holds."""
    width = 1 << (chars - 1).bit_length()
    steps = []
    half = width // 2
    while half:
        group_bits = (1 << 5 * half) - 1
        low = high = 0
        for block in range(0, 8 * width, 16 * half):
            low |= group_bits << block
            high |= group_bits << (block + 5 * half)
        steps.append((low, high, 3 * half))
        half //= 2
    return width, tuple(steps)


def base32_decode(text: str) -> bytes:
    """Strict inverse of :func:`base32_encode`: the only text accepted is the canonical one.

    Refused: lowercase or any character outside ``A-Z2-7``, padding, a length that no byte
    string encodes to, and non-zero spare bits in the last character.
    """
    bits = 5 * len(text)
    spare = bits % 8
    if spare >= 5:  # no byte string encodes to this many characters
        raise LabelError(f"{len(text)} characters is not a base32 length")
    if not _BASE32_TEXT.fullmatch(text):
        bad = next(char for char in text if char not in _BASE32_VALUE)
        raise LabelError(f"{bad!r} is not an uppercase base32 character")
    if not text:
        return b""
    # int(..., 32) reads the digits 0-9a-v: translate the RFC 4648 alphabet onto them
    value = int(text.translate(_TO_INT_DIGITS), 32)
    if value & ((1 << spare) - 1):
        raise LabelError("the last base32 character has spare bits set")
    return (value >> spare).to_bytes(bits // 8, "big")


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
    """Split a label text into (base, payload text); the base must be one of ``bases``."""
    for base in bases:
        if text.startswith(base):
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


# ---------------------------------------------------------------------------------------------
# the full record

RECORD_REQUIRED = ("v", "k", "s", "t", "c", "e", "b", "cat", "d")
RECORD_OPTIONAL = ("n", "w", "r", "g")
#: optional CSV columns and their record keys
OPTIONAL_COLUMNS = {"name": "n", "ware_class": "w", "report_no": "r", "work_reg_no": "g"}


@dataclass(frozen=True)
class RecordFields:
    """Everything a full record says; ``label_fields`` is the part the label repeats."""

    key_id: int
    serial: int
    signed_at: int
    category: int
    enterprise_id: int
    batch: str
    category_code: str
    production_date: date
    name: str | None = None
    ware_class: str | None = None
    report_no: str | None = None
    work_reg_no: str | None = None

    @property
    def label_fields(self) -> LabelFields:
        return LabelFields(self.key_id, self.serial, self.signed_at, self.category)

    def to_cbor_map(self) -> dict[str, object]:
        """The record map, its keys in deterministic-CBOR order (shorter first, then bytewise),
        so that encoding it as it stands gives the deterministic bytes."""
        data: dict[str, object] = {
            "b": self.batch, "c": self.category, "d": self.production_date.isoformat(),
            "e": self.enterprise_id, "g": self.work_reg_no, "k": self.key_id, "n": self.name,
            "r": self.report_no, "s": self.serial, "t": self.signed_at, "v": FORMAT_VERSION,
            "w": self.ware_class, "cat": self.category_code,
        }
        return {key: value for key, value in data.items() if value is not None}

    @classmethod
    def from_cbor_map(cls, data: object) -> RecordFields:
        if not isinstance(data, dict):
            raise LabelError("a record's payload is not a CBOR map")
        keys = set(data)
        missing = set(RECORD_REQUIRED) - keys
        extra = keys - set(RECORD_REQUIRED) - set(RECORD_OPTIONAL)
        if missing or extra:
            raise LabelError(
                f"record fields wrong (missing {sorted(missing)}, "
                f"unknown {sorted(map(str, extra))})"
            )
        if data["v"] != FORMAT_VERSION:
            raise LabelError(f"record format version {data['v']!r} is not supported")
        ints = ("k", "s", "t", "c", "e")
        texts = ("b", "cat", "d", *(key for key in RECORD_OPTIONAL if key in data))
        if not all(type(data[key]) is int for key in ints):
            raise LabelError("a record's numeric field is not an integer")
        if not all(isinstance(data[key], str) for key in texts):
            raise LabelError("a record's text field is not a text string")
        try:
            production = date.fromisoformat(data["d"])
        except ValueError:
            raise LabelError(f"production date {data['d']!r} is not YYYY-MM-DD") from None
        if production.isoformat() != data["d"]:
            raise LabelError(f"production date {data['d']!r} is not YYYY-MM-DD")
        fields = cls(
            key_id=data["k"], serial=data["s"], signed_at=data["t"], category=data["c"],
            enterprise_id=data["e"], batch=data["b"], category_code=data["cat"],
            production_date=production, name=data.get("n"), ware_class=data.get("w"),
            report_no=data.get("r"), work_reg_no=data.get("g"),
        )
        fields.label_fields  # noqa: B018 - range checks of the shared fields
        return fields


@dataclass(frozen=True)
class RecordTemplate:
    """A record's two signed forms with its serial left out. The records of a batch share
    everything but their serials, so signing one of them encodes nothing but its serial between
    the pieces of a template; :func:`sign_record` signs through a template too."""

    #: the deterministic CBOR of the record map up to the value of "s", and after it
    payload_head: bytes
    payload_tail: bytes
    #: the label header before the serial (version, key id), and after it (time, category)
    label_head: bytes
    label_tail: bytes
    form: Sign1Form

    @classmethod
    def of(cls, fields: RecordFields) -> RecordTemplate:
        """The template of every record that says what ``fields`` say, whatever its serial."""
        import cbor2

        from jdzhi.trace.formats.cose import cbor_head, sign1_form

        items = fields.to_cbor_map()
        keys = list(items)
        serial_at = keys.index("s")

        def encoded(part: list[str]) -> bytes:
            # deterministic CBOR: the map's items in to_cbor_map's order, texts and integers
            # (which cbor2 always writes in their shortest form); the map of a part has fewer
            # than 24 items, so its head is one byte and the rest is the items themselves
            return bytes(cbor2.dumps({key: items[key] for key in part}))[1:]

        header = fields.label_fields.header()
        return cls(
            payload_head=cbor_head(5, len(items)) + encoded(keys[:serial_at]) + b"\x61s",
            payload_tail=encoded(keys[serial_at + 1:]),
            label_head=header[:_LABEL_SERIAL.start], label_tail=header[_LABEL_SERIAL.stop:],
            form=sign1_form(CONTENT_TYPES["record"], key_kid(fields.key_id),
                            external_aad("record")),
        )

    def payload(self, serial: int) -> bytes:
        """The deterministic CBOR of the record with ``serial``."""
        from jdzhi.trace.formats.cose import cbor_head

        return self.payload_head + cbor_head(0, serial) + self.payload_tail

    def sign(self, serial: int, sign: Callable[[bytes], bytes]) -> tuple[bytes, bytes]:
        """(full record, label payload) of the record with ``serial``, signed by ``sign``."""
        payload = self.payload(serial)
        header = self.label_head + serial.to_bytes(_LABEL_SERIAL_BYTES, "big") + self.label_tail
        return (self.form.message(payload, sign(self.form.to_be_signed(payload))),
                header + sign(LABEL_DOMAIN + header))


def record_payload(fields: RecordFields) -> bytes:
    """The deterministic CBOR of a record."""
    return RecordTemplate.of(fields).payload(fields.serial)


def base64url(data: bytes) -> str:
    """base64url without padding (RFC 4648 §5), as SIGNED.jsonl carries full records."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def base64url_decode(text: str) -> bytes:
    """Strict inverse of :func:`base64url`."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise LabelError("not base64url text without padding")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64url(data) != text:
        raise LabelError("not the canonical base64url encoding")
    return data


@dataclass(frozen=True)
class SignedRecord:
    """A record signed in both forms: the COSE_Sign1 full record and the label."""

    fields: RecordFields
    record: bytes
    label: Label


def sign_record(fields: RecordFields, sign: Callable[[bytes], bytes]) -> SignedRecord:
    """Sign ``fields`` as a full record and as a label with a licensee key's ``sign``."""
    record, label = RecordTemplate.of(fields).sign(fields.serial, sign)
    return SignedRecord(fields, record, decode_label_payload(label))


def decode_record(data: bytes) -> tuple[Sign1, RecordFields]:
    """Parse a full record strictly (its signature is checked by the verifier)."""
    from jdzhi.trace.formats.cose import CoseError, decode_sign1, loads_canonical

    try:
        message = decode_sign1(data, what="record")
        if message.content_type != CONTENT_TYPES["record"]:
            raise LabelError(f"content type {message.content_type!r} is not a jdzhi record")
        fields = RecordFields.from_cbor_map(loads_canonical(message.payload, what="record payload"))
    except CoseError as error:
        raise LabelError(str(error)) from None
    if message.kid != key_kid(fields.key_id):
        raise LabelError("the record's kid does not match its key id")
    return message, fields


# ---------------------------------------------------------------------------------------------
# certificates: the authority certifies a licensee or lab public key

@dataclass(frozen=True)
class CertFields:
    key_id: int
    public_key: bytes
    role: str
    not_before: int
    not_after: int
    enterprise_id: int | None = None
    license_id: int | None = None
    lab_id: int | None = None

    def to_cbor_map(self) -> dict[str, object]:
        data: dict[str, object] = {"v": FORMAT_VERSION, "k": self.key_id, "pk": self.public_key,
                                   "role": self.role, "nb": self.not_before,
                                   "na": self.not_after}
        if self.role == "licensee":
            data["e"], data["l"] = self.enterprise_id, self.license_id
        else:
            data["lab"] = self.lab_id
        return data


def sign_cert(fields: CertFields, authority_public_key: bytes,
              sign: Callable[[bytes], bytes]) -> bytes:
    from jdzhi.trace.formats.cose import dumps, sign1

    return sign1(content_type=CONTENT_TYPES["cert"], kid=authority_kid(authority_public_key),
                 payload=dumps(fields.to_cbor_map()), external_aad=external_aad("cert"),
                 sign=sign)
