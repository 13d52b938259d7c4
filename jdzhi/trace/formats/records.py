"""The full form of a product record (docs/format.md): a COSE_Sign1 message over a deterministic
CBOR map, content type ``application/vnd.jdzhi.record+cbor``, external AAD ``b"jdzhi/record/1"``.

Pure: no database, no files, no clock.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from jdzhi.trace.formats.common import (
    CONTENT_TYPES,
    FORMAT_VERSION,
    WARE_CLASSES,
    LabelError,
    external_aad,
    key_kid,
)
from jdzhi.trace.formats.labels import (
    _LABEL_SERIAL,
    _LABEL_SERIAL_BYTES,
    LABEL_DOMAIN,
    Label,
    LabelFields,
    decode_label_payload,
)

if TYPE_CHECKING:
    from jdzhi.trace.formats.cose import Sign1, Sign1Form

__all__ = [
    "OPTIONAL_COLUMNS",
    "RECORD_OPTIONAL",
    "RECORD_REQUIRED",
    "RecordFields",
    "RecordTemplate",
    "SignedRecord",
    "base64url",
    "base64url_decode",
    "decode_record",
    "record_payload",
    "sign_record",
]


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
        if data["e"] < 0:
            raise LabelError(f"enterprise id {data['e']} is negative")
        if data.get("w", WARE_CLASSES[0]) not in WARE_CLASSES:
            raise LabelError(f"ware class {data['w']!r} is not one of {', '.join(WARE_CLASSES)}")
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
