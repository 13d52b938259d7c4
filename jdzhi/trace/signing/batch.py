"""``jdzhi sign``: validate a CSV of product records, sign each in both forms, store them.

All rows are checked before anything is signed: field formats, the serial rule
(:data:`jdzhi.trace.formats.labels.SERIAL_PATTERN`), serials unique in the file and for the enterprise,
the category covered by the key's license, and that license valid on the production date and now.
Then every record is signed with one signing time, stored in one transaction with one audit
entry for the batch, and SIGNED.jsonl appears (never overwriting a file) only after that commits.
With ``parallel``, worker processes (:mod:`jdzhi.parallel`) sign the rows already checked while
later rows are still being checked; a bad row anywhere discards every signature made.

Re-running an interrupted command is safe: a row whose serial the enterprise has already signed
with this key and identical content (everything but the signing time) is not signed again; its
stored record is written out as it was. Any other repeat of a stored serial is a conflict.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import Conflict, InvalidInput, InvalidState, KeyUnusable
from jdzhi.inputs import read_text_file
from jdzhi.timeutil import CHINA_STANDARD_TIME, format_time, unix_time, utc_now
from jdzhi.trace.formats.base32 import base32_encode
from jdzhi.trace.formats.common import FormatError, parse_serial
from jdzhi.trace.formats.records import (
    OPTIONAL_COLUMNS,
    RecordFields,
    RecordTemplate,
    base64url,
    decode_record,
)

if TYPE_CHECKING:
    import sqlite_utils

    from jdzhi.registry.categories import Category
    from jdzhi.trace.keys.keyfile import SigningKey

REQUIRED_COLUMNS = ("serial", "batch", "category", "production_date")
MAX_ROWS = 1_000_000
MAX_CSV_BYTES = 512 * 1024 * 1024
_TEXT_LIMITS = {"batch": 64, "name": 200, "ware_class": 32, "report_no": 64, "work_reg_no": 64}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class SignSummary:
    """What :func:`sign_csv` did."""

    count: int
    out: str
    enterprise_id: int
    enterprise: str
    key_id: int
    license_no: str
    signed_at: datetime
    base_url: str
    batches: tuple[str, ...]
    records_sha256: str
    #: records of the file that an earlier run had stored already (written out as stored)
    already_signed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "signed": self.count, "already_signed": self.already_signed, "out": self.out,
            "enterprise_id": self.enterprise_id,
            "enterprise": self.enterprise, "key_id": self.key_id,
            "license_no": self.license_no, "signed_at": format_time(self.signed_at),
            "base_url": self.base_url, "batches": list(self.batches),
            "records_sha256": self.records_sha256,
        }


def resolve_base_url(db: sqlite_utils.Database, option: str | None) -> str:
    """``--base-url``, else ``JDZHI_BASE_URL``, else the base stored at ``jdzhi init``."""
    from jdzhi.trace.trust.from_registry import BASE_URL_ENV, given_base_url, registry_base_url

    if option:
        return given_base_url(option)
    from_env = os.environ.get(BASE_URL_ENV)
    if from_env:
        return given_base_url(from_env)
    return registry_base_url(db)


def read_rows(path: Path) -> tuple[tuple[str, ...], list[list[str]]]:
    """The header and the rows of a records CSV, every value stripped and every row as long as
    the header (a short row's missing values are empty); blank lines are skipped."""
    text = read_text_file(path, max_bytes=MAX_CSV_BYTES)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = tuple(name.strip() for name in next(reader, []))
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if missing:
            raise InvalidInput(f"{path} lacks the column(s) {', '.join(missing)} "
                               f"(needs {', '.join(REQUIRED_COLUMNS)})")
        known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
        unknown = [name for name in header if name not in known]
        if unknown:
            raise InvalidInput(f"{path} has unknown column(s) {', '.join(unknown)}")
        if len(set(header)) != len(header):
            raise InvalidInput(f"{path} names a column twice")
        width = len(header)
        rows: list[list[str]] = []
        for row in reader:
            if len(row) != width:
                if not row:
                    continue
                if len(row) > width:
                    raise InvalidInput(f"{path} row {reader.line_num}: more fields than columns")
                row += [""] * (width - len(row))
            rows.append([value.strip() for value in row])
            if len(rows) > MAX_ROWS:
                raise InvalidInput(f"{path} has more than {MAX_ROWS} rows; split it")
    except csv.Error as error:
        raise InvalidInput(f"{path} row {reader.line_num}: {error}") from None
    if not rows:
        raise InvalidInput(f"{path} holds no records")
    return header, rows


def _end_of_production_day(day: date, now: datetime) -> datetime:
    end = datetime.combine(day, time(23, 59, 59), CHINA_STANDARD_TIME).astimezone(UTC)
    return min(end, now)


def _check_text(row_no: int, column: str, value: str) -> str:
    if _CONTROL.search(value):
        raise InvalidInput(f"row {row_no}: {column} holds a control character; "
                           "nothing was signed")
    if len(value) > _TEXT_LIMITS[column]:
        raise InvalidInput(f"row {row_no}: {column} is longer than {_TEXT_LIMITS[column]} "
                           "characters; nothing was signed")
    return value


@dataclass(frozen=True)
class StoredRecord:
    """A record the registry holds already (an earlier run signed it)."""

    key_id: int
    record: bytes
    label: str
    signed_at: str


def _stored_records(db: sqlite_utils.Database, enterprise_id: int,
                    serials: list[str]) -> dict[str, StoredRecord]:
    stored: dict[str, StoredRecord] = {}
    for start in range(0, len(serials), 500):
        chunk = serials[start:start + 500]
        for serial, key_id, record, label, signed_at in db.execute(
            "SELECT serial, key_id, record, label, signed_at FROM signed_records "
            f"WHERE enterprise_id = ? AND serial IN ({', '.join('?' * len(chunk))})",
            [enterprise_id, *chunk],
        ).fetchall():
            stored[serial] = StoredRecord(key_id, record, label, signed_at)
    return stored


def _same_content(stored: StoredRecord, fields: RecordFields) -> bool:
    """Whether a stored record says what ``fields`` say, signing time apart."""
    if stored.key_id != fields.key_id:
        return False
    _message, stored_fields = decode_record(stored.record)
    return stored_fields == replace(fields, signed_at=stored_fields.signed_at)


def _remove_stale_partials(out: Path) -> None:
    """Remove the temporary outputs that interrupted runs (processes now gone) left behind."""
    for partial in out.parent.glob(f".{out.name}.*.partial"):
        pid = partial.name[len(out.name) + 2:-len(".partial")]
        if not (pid.isascii() and pid.isdigit()):
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            partial.unlink(missing_ok=True)
        except OSError:
            continue


@dataclass(frozen=True)
class RowContext:
    """What the rows that agree in every column but the serial share, checked once; a worker
    encodes it once per chunk (:class:`jdzhi.trace.formats.labels.RecordTemplate`)."""

    #: the fields of the first such row (with its serial)
    fields: RecordFields
    #: the first columns of the registry row of each new record (see _RECORD_COLUMNS)
    stored: tuple[int, int, str, str, str, str]


class _RowRules:
    """The checks of one CSV row against the key's enterprise and license (module docstring).

    The serial is checked for every row; the other columns once for each combination of their
    values, which the rows of a batch mostly repeat."""

    def __init__(self, *, columns: tuple[str, ...], job: SigningJob, key_id: int,
                 enterprise_id: int, license_no: str, licensed: frozenset[str],
                 categories: tuple[Category, ...], now: datetime,
                 status_on: Callable[[datetime], str]) -> None:
        from jdzhi.trace.formats.common import WARE_CLASSES

        self.serial_at = columns.index("serial")
        self.at = {column: columns.index(column) for column in columns}
        self.job = job
        self.key_id = key_id
        self.enterprise_id = enterprise_id
        self.license_no = license_no
        self.licensed = licensed
        self.categories = categories
        self.now = now
        self.today = now.astimezone(CHINA_STANDARD_TIME).date()
        self.signed_at = unix_time(now)
        self.status_on = status_on
        self.status_by_day: dict[date, str] = {}
        self.category_by_name: dict[str, Category] = {}
        self.seen: dict[str, int] = {}
        self.contexts: dict[tuple[str, ...], RowContext] = {}
        self.ware_classes = WARE_CLASSES

    def check(self, row_no: int, values: list[str]) -> tuple[str, int, RowContext]:
        """(serial text, serial, context) of a valid row; InvalidInput or InvalidState names
        the row and the first rule it breaks."""
        serial_text = values[self.serial_at]
        try:
            serial = parse_serial(serial_text)
        except FormatError as error:
            raise InvalidInput(f"row {row_no}: {error}; nothing was signed") from None
        if serial_text in self.seen:
            raise InvalidInput(f"row {row_no}: serial {serial_text} repeats row "
                               f"{self.seen[serial_text]}; nothing was signed")
        self.seen[serial_text] = row_no
        others = tuple(values[:self.serial_at] + values[self.serial_at + 1:])
        context = self.contexts.get(others)
        if context is None:
            context = self.contexts[others] = self._context(row_no, serial, values)
        return serial_text, serial, context

    def _context(self, row_no: int, serial: int, values: list[str]) -> RowContext:
        def value(column: str) -> str:
            at = self.at.get(column)
            return "" if at is None else values[at]

        batch = _check_text(row_no, "batch", value("batch"))
        if not batch:
            raise InvalidInput(f"row {row_no}: batch is empty; nothing was signed")
        category_name = value("category")
        category = self.category_by_name.get(category_name)
        if category is None:
            from jdzhi.registry.categories import find_category

            found = find_category(self.categories, category_name)
            if found is None:
                raise InvalidInput(f"row {row_no}: no product category {category_name!r}; "
                                   "nothing was signed")
            category = self.category_by_name[category_name] = found
        if category.code not in self.licensed:
            raise InvalidState(f"row {row_no}: license {self.license_no} does not cover "
                               f"category {category.code}; nothing was signed")
        text = value("production_date")
        try:
            day = date.fromisoformat(text)
            if day.isoformat() != text:  # fromisoformat also reads 20260301 and 2026-W10-1
                raise ValueError
        except ValueError:
            raise InvalidInput(f"row {row_no}: production_date {text!r} is not YYYY-MM-DD; "
                               "nothing was signed") from None
        if day > self.today:
            raise InvalidInput(f"row {row_no}: production date {text} lies in the future; "
                               "nothing was signed")
        status = self.status_by_day.get(day)
        if status is None:
            status = self.status_by_day[day] = self.status_on(
                _end_of_production_day(day, self.now))
        if status != "active":
            raise InvalidState(f"row {row_no}: license {self.license_no} was {status} on "
                               f"{text}; nothing was signed")
        optional: dict[str, str | None] = {}
        for column in OPTIONAL_COLUMNS:
            optional[column] = _check_text(row_no, column, value(column)) or None
        if (optional["ware_class"] is not None
                and optional["ware_class"] not in self.ware_classes):
            raise InvalidInput(f"row {row_no}: ware_class {optional['ware_class']!r} is not one "
                               f"of {', '.join(self.ware_classes)}; nothing was signed")
        fields = RecordFields(
            key_id=self.key_id, serial=serial, signed_at=self.signed_at,
            category=category.label_code, enterprise_id=self.enterprise_id, batch=batch,
            category_code=category.code, production_date=day, **optional,
        )
        return RowContext(fields, (self.enterprise_id, self.key_id, batch, category.code,
                                   day.isoformat(), self.job.signed_at))


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


class _SignedOutput:
    """SIGNED.jsonl, written as its records come into a temporary file beside it, which
    :meth:`publish` links to the final name (never overwriting a file) and which is removed
    in every case when the ``with`` block ends."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.temporary = out.with_name(f".{out.name}.{os.getpid()}.partial")

    def __enter__(self) -> _SignedOutput:
        _remove_stale_partials(self.out)
        try:
            self._handle = self.temporary.open("wb")
        except OSError as error:
            raise InvalidInput(f"cannot write {self.out}: {error.strerror}") from None
        return self

    def write(self, lines: bytes) -> None:
        self._guarded(lambda: self._handle.write(lines))

    def finish(self) -> None:
        """Everything written, on disk."""
        self._guarded(self._handle.flush)
        self._guarded(lambda: os.fsync(self._handle.fileno()))
        self._handle.close()

    def publish(self) -> None:
        try:
            os.link(self.temporary, self.out)  # fails rather than overwrite a file made meanwhile
        except FileExistsError:
            raise Conflict(f"{self.out} appeared meanwhile; the records are stored: run the same "
                           "command with another --out to write them") from None
        except OSError as error:
            raise InvalidInput(f"cannot write {self.out}: {error.strerror}; the records are "
                               "stored: run the same command again to write them") from None

    def _guarded(self, action: Callable[[], object]) -> None:
        try:
            action()
        except OSError as error:
            raise InvalidInput(f"cannot write {self.out}: {error.strerror}") from None

    def __exit__(self, *_: object) -> None:
        self._handle.close()
        self.temporary.unlink(missing_ok=True)


#: the columns of a new signed record: those of its row context (RowContext.stored), then its own
_RECORD_COLUMNS = ("enterprise_id, key_id, batch, category_code, production_date, signed_at, "
                   "serial, record, label")


class _Staging:
    """New signed records held in a temporary table of this connection until every record of
    the run is signed: adding them costs most of what storing them does, and needs no lock on
    the registry. The table is dropped when the ``with`` block ends."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self._moved = 0  # the staged rows up to this rowid are in the registry

    def __enter__(self) -> _Staging:
        self.db.execute("DROP TABLE IF EXISTS temp.signing_stage")
        self.db.execute(f"CREATE TEMP TABLE signing_stage ({_RECORD_COLUMNS})")
        return self

    def add(self, rows: list[tuple[Any, ...]]) -> None:
        # one transaction per step, which touches the temporary database only: a third of the
        # cost of a transaction per row, and no lock on the registry
        insert = (f"INSERT INTO temp.signing_stage ({_RECORD_COLUMNS}) "
                  f"VALUES ({', '.join('?' * 9)})")
        if self.db.conn.in_transaction:  # the caller's
            self.db.conn.executemany(insert, rows)
            return
        self.db.execute("BEGIN")
        try:
            self.db.conn.executemany(insert, rows)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def move_to_registry(self) -> None:
        """Insert the records staged since the last move, in their order (inside the caller's
        transaction)."""
        self.db.execute(f"INSERT INTO signed_records ({_RECORD_COLUMNS}) "
                        f"SELECT {_RECORD_COLUMNS} FROM temp.signing_stage WHERE rowid > ? "
                        "ORDER BY rowid", [self._moved])
        self._moved = self.db.execute(
            "SELECT coalesce(max(rowid), 0) FROM temp.signing_stage").fetchone()[0]

    def __exit__(self, *_: object) -> None:
        self.db.execute("DROP TABLE IF EXISTS temp.signing_stage")


def sign_csv(
    db: sqlite_utils.Database,
    records_csv: Path,
    *,
    key: SigningKey,
    out: Path,
    base_url: str | None = None,
    progress: Callable[[int], None] | None = None,
    parallel: bool = False,
) -> SignSummary:
    """Sign every row of ``records_csv`` with ``key``; see the module docstring. ``parallel``
    signs a big batch on every core (:mod:`jdzhi.parallel`)."""
    from jdzhi.parallel import ChunkRunner
    from jdzhi.registry import audit
    from jdzhi.registry.categories import list_categories
    from jdzhi.registry.db import transaction
    from jdzhi.registry.enterprises import enterprise_by_id
    from jdzhi.registry.licenses import effective_status_from, get_license, history
    from jdzhi.trace.keys.certified import key_by_public_key

    if out.exists() or out.is_symlink():
        raise Conflict(f"{out} already exists; choose another name")
    if not out.parent.is_dir():
        raise InvalidInput(f"folder {out.parent} does not exist")
    base = resolve_base_url(db, base_url)
    info = key_by_public_key(db, key.public_key)
    if info.role != "licensee" or info.enterprise_id is None:
        raise KeyUnusable(f"key {info.key_id} is a testing-center key, not a signing key")
    now = utc_now()
    key_status = info.status_at(now)
    if key_status != "active":
        raise InvalidState(f"key {info.key_id} is {key_status}: it cannot sign")
    enterprise = enterprise_by_id(db, info.enterprise_id)
    license_id = db.execute("SELECT license_id FROM trust_keys WHERE key_id = ?",
                            [info.key_id]).fetchone()[0]
    lic = get_license(db, license_id)
    events = history(db, lic.id)
    status_now = effective_status_from(events, lic.valid_from, now)
    if status_now != "active":
        raise InvalidState(f"license {lic.license_no} of {enterprise.name} is {status_now} now: "
                           "nothing was signed")
    columns, rows = read_rows(records_csv)
    categories = list_categories(db)
    signed_time = format_time(now)
    job = SigningJob.create(
        secret=key.secret, base=base, signed_at=signed_time,
        line_head={"key_id": info.key_id, "enterprise_id": enterprise.id,
                   "enterprise": enterprise.name, "enterprise_short_name": enterprise.short_name,
                   "license_no": lic.license_no},
        categories=categories,
    )
    rules = _RowRules(
        columns=columns, job=job, key_id=info.key_id, enterprise_id=enterprise.id,
        license_no=lic.license_no, licensed=frozenset(lic.categories), categories=categories,
        now=now, status_on=lambda moment: effective_status_from(events, lic.valid_from, moment),
    )
    taken = {serial for (serial,) in db.execute(
        "SELECT serial FROM signed_records WHERE enterprise_id = ?", [enterprise.id]
    ).fetchall()}
    stored: dict[str, StoredRecord] = {}
    #: the rows whose serial the registry holds already: (serial, row context, row number)
    repeats: list[tuple[int, RowContext, int]] = []
    new_serials: list[str] = []
    chunks: deque[list[ChunkRow]] = deque()
    # Workers sign the rows checked so far while later rows are being checked; a bad row
    # discards every signature made, before anything is stored or written.
    runner: ChunkRunner[SigningJob, ChunkRow, SignedChunk]
    with ChunkRunner(sign_chunk, job, expected=len(rows), preload=__name__,
                     parallel=parallel) as runner:

        def send(chunk: list[ChunkRow]) -> None:
            """Hand a chunk to the workers, its rows that an earlier run stored with their
            stored records."""
            again = [row[0] for row in chunk if row[0] in taken]
            if again:
                stored.update(_stored_records(db, enterprise.id, again))
                chunk = [(text, serial, context, stored.get(text))
                         for text, serial, context, _ in chunk]
            chunks.append(chunk)
            runner.add(chunk)

        chunk: list[ChunkRow] = []
        for row_no, values in enumerate(rows, start=2):
            serial_text, serial, context = rules.check(row_no, values)
            chunk.append((serial_text, serial, context, None))
            if serial_text in taken:
                repeats.append((serial, context, row_no))
            else:
                new_serials.append(serial_text)
            if len(chunk) == runner.chunk_size:
                send(chunk)
                chunk = []
        if chunk:
            send(chunk)
        count = len(rows)
        del rows
        for serial, context, row_no in repeats:
            if not _same_content(stored[str(serial)], replace(context.fields, serial=serial)):
                raise Conflict(f"row {row_no}: serial {serial} was signed before for "
                               f"{enterprise.name} with other content or another key; "
                               "nothing was signed")
        batches = tuple(sorted({context.fields.batch for context in rules.contexts.values()}))
        digest = hashlib.sha256()
        new_digest = hashlib.sha256()
        # SIGNED.jsonl and the new rows are written as the workers hand the records over (the rows
        # to a staging table: no write lock is held while most of them are signed). The one
        # transaction that stores them begins when the last round of chunks is being signed (it
        # holds the lock for about the time of a chunk, not of the run) and commits once every
        # record is in and the file is on disk; only then does the file appear.
        with _SignedOutput(out) as output, _Staging(db) as staging, ExitStack() as storing:
            storing_begun = False
            for signed in runner.results():
                sent = chunks.popleft()
                output.write(signed.lines)
                digest.update(b"".join(signed.records))
                new_rows = [(*context.stored, serial_text, record, label)
                            for (serial_text, _, context, earlier), record, label
                            in zip(sent, signed.records, signed.labels, strict=True)
                            if earlier is None]
                new_digest.update(b"".join(row[-2] for row in new_rows))
                staging.add(new_rows)
                if (new_serials and not storing_begun
                        and runner.pending <= max(runner.workers, 1)):
                    storing.enter_context(transaction(db))
                    storing_begun = True
                if storing_begun:
                    staging.move_to_registry()
                if progress is not None:
                    progress(len(sent))
            output.finish()
            if new_serials:
                if not storing_begun:
                    storing.enter_context(transaction(db))
                    staging.move_to_registry()
                audit.append(
                    db, action="records.sign",
                    entity=f"signed_records:{enterprise.id}:{signed_time}",
                    before=None, after={"count": len(new_serials),
                                        "sha256": new_digest.hexdigest()},
                    details={"key_id": info.key_id, "count": len(new_serials),
                             "batches": list(batches), "first_serial": new_serials[0],
                             "last_serial": new_serials[-1]},
                )
            storing.close()  # commits
            # only after the commit, so that an output file always means its records are stored
            output.publish()
    return SignSummary(count, str(out), enterprise.id, enterprise.name, info.key_id,
                       lic.license_no, now, base, batches, digest.hexdigest(),
                       already_signed=count - len(new_serials))
