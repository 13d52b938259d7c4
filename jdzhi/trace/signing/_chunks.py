"""Signing a chunk of checked rows, in this process or a worker (:mod:`jdzhi.parallel` imports
this module in its workers: keep it light)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jdzhi.trace.formats.base32 import base32_encode
from jdzhi.trace.formats.records import (
    OPTIONAL_COLUMNS,
    RecordFields,
    RecordTemplate,
    base64url,
    decode_record,
)
from jdzhi.trace.signing._rows import RowContext
from jdzhi.trace.signing._staging import StoredRecord

if TYPE_CHECKING:
    from jdzhi.registry.categories import Category


@dataclass(frozen=True)
class SigningJob:
    """What signing a chunk of records needs, in this process or a worker."""

    secret: bytes = field(repr=False)
    base: str
    signed_at: str
    #: JSON members every SIGNED.jsonl line of the run repeats after serial, record and label
    line_head: str
    #: category code -> its JSON members (code and names)
    category_members: dict[str, str]

    @classmethod
    def create(cls, *, secret: bytes, base: str, signed_at: str, line_head: dict[str, Any],
               categories: Sequence[Category]) -> SigningJob:
        return cls(secret, base, signed_at, _json_members(line_head), {
            category.code: _json_members({"category": category.code,
                                          "category_name_zh": category.name_zh,
                                          "category_name_en": category.name_en})
            for category in categories})

    def line(self, serial: str, record: bytes, label: str, tail: bytes) -> bytes:
        """The SIGNED.jsonl line of one record in UTF-8 with its newline, as ``json.dumps(...,
        ensure_ascii=False, separators=(",", ":"))`` writes it, put together from pieces because
        that is a large part of the cost of a record after the signatures; ``tail`` is
        :meth:`line_tail`."""
        from json.encoder import encode_basestring as text

        return b'{"serial":"%s","record":"%s","label":%s,%s}\n' % (
            serial.encode(), base64url(record).encode(), text(label).encode(), tail)

    def line_tail(self, fields: RecordFields, signed_at: str) -> bytes:
        """The members of a line after its label: the same for every record of a row context."""
        from json.encoder import encode_basestring as text

        optional = "".join(f',"{column}":{text(value)}' for column in OPTIONAL_COLUMNS
                           if (value := getattr(fields, column)) is not None)
        return (f'{self.line_head},{self.category_members[fields.category_code]},'
                f'"batch":{text(fields.batch)},'
                f'"production_date":"{fields.production_date.isoformat()}",'
                f'"signed_at":{text(signed_at)}{optional}').encode()


def _json_members(members: dict[str, Any]) -> str:
    return json.dumps(members, ensure_ascii=False, separators=(",", ":"))[1:-1]


#: one row of a chunk to sign: serial text, serial, row context, and the stored record when an
#: earlier run signed it already (its line is written again, nothing is signed)
ChunkRow = tuple[str, int, RowContext, StoredRecord | None]


@dataclass(frozen=True)
class SignedChunk:
    """The signed forms of the rows of a chunk, in order."""

    records: list[bytes]
    labels: list[str]
    #: their SIGNED.jsonl lines, UTF-8, each ending in a newline
    lines: bytes


def sign_chunk(job: SigningJob, chunk: Sequence[ChunkRow]) -> SignedChunk:
    """Sign the new records of a chunk and write every row's SIGNED.jsonl line."""
    from jdzhi.trace.ed25519 import signer

    by_key, base = signer(job.secret), job.base
    records, labels, lines = [], [], []
    # each context's template and line tail, by the context object: the rows of a chunk share
    # them (pickle keeps shared references), and they live as long as the chunk
    encoded: dict[int, tuple[RecordTemplate, bytes]] = {}
    for serial_text, serial, context, earlier in chunk:
        if earlier is None:
            pieces = encoded.get(id(context))
            if pieces is None:
                pieces = encoded[id(context)] = (RecordTemplate.of(context.fields),
                                                 job.line_tail(context.fields, job.signed_at))
            template, tail = pieces
            record, label_payload = template.sign(serial, by_key)
            label = base + base32_encode(label_payload)
        else:
            record, label = earlier.record, earlier.label
            tail = job.line_tail(decode_record(record)[1], earlier.signed_at)
        records.append(record)
        labels.append(label)
        lines.append(job.line(serial_text, record, label, tail))
    return SignedChunk(records, labels, b"".join(lines))
