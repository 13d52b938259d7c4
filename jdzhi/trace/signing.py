"""``jdzhi sign``: validate a CSV of product records, sign each in both forms, store them.

All rows are checked before anything is signed: field formats, the serial rule
(:data:`jdzhi.trace.format.SERIAL_PATTERN`), serials unique in the file and for the enterprise,
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import Conflict, InvalidInput, InvalidState, KeyUnusable
from jdzhi.inputs import read_text_file
from jdzhi.timeutil import CHINA_STANDARD_TIME, format_time, utc_now
from jdzhi.trace.format import (
    OPTIONAL_COLUMNS,
    RecordFields,
    base64url,
    check_base_url,
    decode_record,
    parse_serial,
    sign_record,
    unix_time,
)

if TYPE_CHECKING:
    import sqlite_utils

    from jdzhi.registry.categories import Category
    from jdzhi.trace.keystore import SigningKey

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
    from jdzhi.trace.snapshot import BASE_URL_ENV, registry_base_url

    if option:
        return check_base_url(option)
    from_env = os.environ.get(BASE_URL_ENV)
    if from_env:
        return check_base_url(from_env)
    return registry_base_url(db)


def read_rows(path: Path) -> list[dict[str, str]]:
    text = read_text_file(path, max_bytes=MAX_CSV_BYTES)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
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
    reader.fieldnames = header
    rows: list[dict[str, str]] = []
    try:
        for row in reader:
            if None in row:
                raise InvalidInput(f"{path} row {reader.line_num}: more fields than columns")
            rows.append({key: (value or "").strip() for key, value in row.items()})
            if len(rows) > MAX_ROWS:
                raise InvalidInput(f"{path} has more than {MAX_ROWS} rows; split it")
    except csv.Error as error:
        raise InvalidInput(f"{path} row {reader.line_num}: {error}") from None
    if not rows:
        raise InvalidInput(f"{path} holds no records")
    return rows


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
class _StoredRecord:
    key_id: int
    record: bytes
    label: str
    signed_at: str


def _stored_records(db: sqlite_utils.Database, enterprise_id: int,
                    serials: list[str]) -> dict[str, _StoredRecord]:
    stored: dict[str, _StoredRecord] = {}
    for start in range(0, len(serials), 500):
        chunk = serials[start:start + 500]
        for serial, key_id, record, label, signed_at in db.execute(
            "SELECT serial, key_id, record, label, signed_at FROM signed_records "
            f"WHERE enterprise_id = ? AND serial IN ({', '.join('?' * len(chunk))})",
            [enterprise_id, *chunk],
        ).fetchall():
            stored[serial] = _StoredRecord(key_id, record, label, signed_at)
    return stored


def _same_content(stored: _StoredRecord, fields: RecordFields) -> bool:
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


class _RowRules:
    """The checks of one CSV row against the key's enterprise and license (module docstring)."""

    def __init__(self, *, key_id: int, enterprise_id: int, license_no: str,
                 licensed: frozenset[str], categories: tuple[Category, ...], now: datetime,
                 status_on: Callable[[datetime], str]) -> None:
        from jdzhi.trace.lab import WARE_CLASSES

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
        self.ware_classes = WARE_CLASSES

    def check(self, row_no: int, row: dict[str, str]) -> RecordFields:
        try:
            serial_text = row["serial"]
            serial = parse_serial(serial_text)
        except InvalidInput as error:
            raise InvalidInput(f"row {row_no}: {error.message}; nothing was signed") from None
        if serial_text in self.seen:
            raise InvalidInput(f"row {row_no}: serial {serial_text} repeats row "
                               f"{self.seen[serial_text]}; nothing was signed")
        self.seen[serial_text] = row_no
        batch = _check_text(row_no, "batch", row["batch"])
        if not batch:
            raise InvalidInput(f"row {row_no}: batch is empty; nothing was signed")
        category = self.category_by_name.get(row["category"])
        if category is None:
            from jdzhi.registry.categories import find_category

            found = find_category(self.categories, row["category"])
            if found is None:
                raise InvalidInput(f"row {row_no}: no product category {row['category']!r}; "
                                   "nothing was signed")
            category = self.category_by_name[row["category"]] = found
        if category.code not in self.licensed:
            raise InvalidState(f"row {row_no}: license {self.license_no} does not cover "
                               f"category {category.code}; nothing was signed")
        text = row["production_date"]
        try:
            day = date.fromisoformat(text)
            if len(text) != 10:
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
            optional[column] = _check_text(row_no, column, row.get(column, "")) or None
        if (optional["ware_class"] is not None
                and optional["ware_class"] not in self.ware_classes):
            raise InvalidInput(f"row {row_no}: ware_class {optional['ware_class']!r} is not one "
                               f"of {', '.join(self.ware_classes)}; nothing was signed")
        return RecordFields(
            key_id=self.key_id, serial=serial, signed_at=self.signed_at,
            category=category.label_code, enterprise_id=self.enterprise_id, batch=batch,
            category_code=category.code, production_date=day, **optional,
        )


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

    def line(self, fields: RecordFields, record: bytes, label: str, signed_at: str) -> str:
        """The SIGNED.jsonl line of one record, as ``json.dumps(..., ensure_ascii=False,
        separators=(",", ":"))`` writes it, put together from pieces because that is a large
        part of the cost of a record after the signatures."""
        from json.encoder import encode_basestring as text

        optional = "".join(f',"{column}":{text(value)}' for column in OPTIONAL_COLUMNS
                           if (value := getattr(fields, column)) is not None)
        return (f'{{"serial":"{fields.serial}","record":"{base64url(record)}",'
                f'"label":{text(label)},{self.line_head},'
                f'{self.category_members[fields.category_code]},"batch":{text(fields.batch)},'
                f'"production_date":"{fields.production_date.isoformat()}",'
                f'"signed_at":{text(signed_at)}{optional}}}')


def _json_members(members: dict[str, Any]) -> str:
    return json.dumps(members, ensure_ascii=False, separators=(",", ":"))[1:-1]


def sign_chunk(job: SigningJob, chunk: Sequence[RecordFields]) -> list[tuple[bytes, str, str]]:
    """Sign records: (full record, label text, SIGNED.jsonl line) for each."""
    from jdzhi.trace.ed25519 import sign

    def by_key(message: bytes) -> bytes:
        return sign(job.secret, message)

    out = []
    for fields in chunk:
        item = sign_record(fields, by_key)
        label = item.label.text(job.base)
        out.append((item.record, label, job.line(fields, item.record, label, job.signed_at)))
    return out


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
    from jdzhi.trace.keys import key_by_public_key

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
    rows = read_rows(records_csv)
    categories = list_categories(db)
    rules = _RowRules(
        key_id=info.key_id, enterprise_id=enterprise.id, license_no=lic.license_no,
        licensed=frozenset(lic.categories), categories=categories, now=now,
        status_on=lambda moment: effective_status_from(events, lic.valid_from, moment),
    )
    taken = {serial for (serial,) in db.execute(
        "SELECT serial FROM signed_records WHERE enterprise_id = ?", [enterprise.id]
    ).fetchall()}
    signed_time = format_time(now)
    job = SigningJob.create(
        secret=key.secret, base=base, signed_at=signed_time,
        line_head={"key_id": info.key_id, "enterprise_id": enterprise.id,
                   "enterprise": enterprise.name, "enterprise_short_name": enterprise.short_name,
                   "license_no": lic.license_no},
        categories=categories,
    )
    prepared: list[tuple[RecordFields, int]] = []
    # Workers sign the rows checked so far while later rows are being checked; a bad row
    # discards every signature made, before anything is stored or written.
    with ChunkRunner(sign_chunk, job, expected=len(rows), preload=__name__,
                     parallel=parallel) as runner:
        chunk: list[RecordFields] = []
        for row_no, row in enumerate(rows, start=2):
            fields = rules.check(row_no, row)
            prepared.append((fields, row_no))
            if str(fields.serial) not in taken:
                chunk.append(fields)
                if len(chunk) == runner.chunk_size:
                    runner.add(chunk)
                    chunk = []
        if chunk:
            runner.add(chunk)
        stored = _stored_records(db, enterprise.id,
                                 [str(f.serial) for f, _ in prepared if str(f.serial) in taken])
        for fields, row_no in prepared:
            earlier = stored.get(str(fields.serial))
            if earlier is not None and not _same_content(earlier, fields):
                raise Conflict(f"row {row_no}: serial {fields.serial} was signed before for "
                               f"{enterprise.name} with other content or another key; "
                               "nothing was signed")
        signed_new = (item for results in runner.results() for item in results)
        digest = hashlib.sha256()
        new_digest = hashlib.sha256()
        lines: list[str] = []
        db_rows: list[tuple[Any, ...]] = []
        for fields, _row_no in prepared:
            earlier = stored.get(str(fields.serial))
            if earlier is None:
                record, label, line = next(signed_new)
                new_digest.update(record)
                db_rows.append((enterprise.id, str(fields.serial), fields.key_id, fields.batch,
                                fields.category_code, fields.production_date.isoformat(),
                                signed_time, record, label))
            else:
                _message, earlier_fields = decode_record(earlier.record)
                record, label = earlier.record, earlier.label
                line = job.line(earlier_fields, record, label, earlier.signed_at)
            digest.update(record)
            lines.append(line)
            if progress is not None:
                progress(1)
    batches = tuple(sorted({fields.batch for fields, _ in prepared}))
    _remove_stale_partials(out)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise InvalidInput(f"cannot write {out}: {error.strerror}") from None
    try:
        if db_rows:
            with transaction(db):
                db.conn.executemany(
                    "INSERT INTO signed_records (enterprise_id, serial, key_id, batch, "
                    "category_code, production_date, signed_at, record, label) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    db_rows,
                )
                audit.append(
                    db, action="records.sign",
                    entity=f"signed_records:{enterprise.id}:{signed_time}",
                    before=None, after={"count": len(db_rows), "sha256": new_digest.hexdigest()},
                    details={"key_id": info.key_id, "count": len(db_rows),
                             "batches": list(batches),
                             "first_serial": db_rows[0][1], "last_serial": db_rows[-1][1]},
                )
        # only after the commit, so that an output file always means its records are stored
        try:
            os.link(temporary, out)  # fails rather than overwrite a file made meanwhile
        except FileExistsError:
            raise Conflict(f"{out} appeared meanwhile; the records are stored: run the same "
                           "command with another --out to write them") from None
        except OSError as error:
            raise InvalidInput(f"cannot write {out}: {error.strerror}; the records are stored: "
                               "run the same command again to write them") from None
    finally:
        temporary.unlink(missing_ok=True)
    return SignSummary(len(prepared), str(out), enterprise.id, enterprise.name, info.key_id,
                       lic.license_no, now, base, batches, digest.hexdigest(),
                       already_signed=len(prepared) - len(db_rows))
