"""``jdzhi sign``: validate a CSV of product records, sign each in both forms, store them.

All rows are checked before anything is signed: field formats, the serial rule
(:data:`jdzhi.trace.formats.labels.SERIAL_PATTERN`), serials unique in the file and for the
enterprise, the category covered by the key's license, and that license valid on the production
date and now. Then every record is signed with one signing time, stored in one transaction with
one audit entry for the batch, and SIGNED.jsonl appears (never overwriting a file) only after
that commits.
With ``parallel``, worker processes (:mod:`jdzhi.parallel`) sign the rows already checked while
later rows are still being checked; a bad row anywhere discards every signature made.

Re-running an interrupted command is safe: a row whose serial the enterprise has already signed
with this key and identical content (everything but the signing time) is not signed again; its
stored record is written out as it was. Any other repeat of a stored serial is a conflict.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import Conflict, InvalidInput, InvalidState, KeyUnusable
from jdzhi.files import NewFile
from jdzhi.inputs import Encoding
from jdzhi.timeutil import format_time, utc_now
from jdzhi.trace.signing._chunks import ChunkRow, SignedChunk, SigningJob, sign_chunk
from jdzhi.trace.signing._rows import REQUIRED_COLUMNS, RecordRows, RowContext, RowRules, read_rows
from jdzhi.trace.signing._staging import Staging, StoredRecord, same_content, stored_records

if TYPE_CHECKING:
    from jdzhi.parallel import ChunkRunner
    from jdzhi.registry.db import Database
    from jdzhi.registry.enterprises import Enterprise
    from jdzhi.registry.licenses import License, LicenseEvent
    from jdzhi.trace.keys.certified import KeyInfo
    from jdzhi.trace.keys.keyfile import SigningKey

__all__ = ["REQUIRED_COLUMNS", "SignSummary", "resolve_base_url", "sign_csv"]


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
    #: the encoding of the records CSV: ``gb18030`` when it was not UTF-8 (worth a note)
    source_encoding: Encoding = "utf-8"

    def to_json(self) -> dict[str, Any]:
        return {
            "signed": self.count, "already_signed": self.already_signed, "out": self.out,
            "enterprise_id": self.enterprise_id,
            "enterprise": self.enterprise, "key_id": self.key_id,
            "license_no": self.license_no, "signed_at": format_time(self.signed_at),
            "base_url": self.base_url, "batches": list(self.batches),
            "records_sha256": self.records_sha256,
        }


def resolve_base_url(db: Database, option: str | None) -> str:
    """``--base-url``, else ``JDZHI_BASE_URL``, else the base stored at ``jdzhi init``."""
    from jdzhi.trace.trust.from_registry import BASE_URL_ENV, given_base_url, registry_base_url

    if option:
        return given_base_url(option)
    from_env = os.environ.get(BASE_URL_ENV)
    if from_env:
        return given_base_url(from_env)
    return registry_base_url(db)


@dataclass(frozen=True)
class _Signer:
    """The signing key's certificate, enterprise and license, found valid now."""

    info: KeyInfo
    enterprise: Enterprise
    license: License
    events: tuple[LicenseEvent, ...]


def _signer(db: Database, key: SigningKey, now: datetime) -> _Signer:
    from jdzhi.registry.enterprises import enterprise_by_id
    from jdzhi.registry.licenses import effective_status_from, get_license, history
    from jdzhi.trace.keys.certified import key_by_public_key

    info = key_by_public_key(db, key.public_key)
    if info.role != "licensee" or info.enterprise_id is None:
        raise KeyUnusable(f"key {info.key_id} is a testing-center key, not a signing key")
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
    return _Signer(info, enterprise, lic, tuple(events))


@dataclass
class _Plan:
    """The checked rows as sent to the workers, and what storing them needs."""

    #: the chunks sent, in order, until their signatures come back
    chunks: deque[list[ChunkRow]] = field(default_factory=deque)
    #: the records an earlier run stored, by serial
    stored: dict[str, StoredRecord] = field(default_factory=dict)
    #: the rows whose serial the registry holds already: (serial, row context, row number)
    repeats: list[tuple[int, RowContext, int]] = field(default_factory=list)
    new_serials: list[str] = field(default_factory=list)


def _check_and_send(db: Database, table: RecordRows, rules: RowRules,
                    runner: ChunkRunner[SigningJob, ChunkRow, SignedChunk]) -> _Plan:
    """Check every row in order, handing the checked ones to the workers chunk by chunk."""
    plan = _Plan()
    enterprise_id = rules.enterprise_id
    taken = {serial for (serial,) in db.execute(
        "SELECT serial FROM signed_records WHERE enterprise_id = ?", [enterprise_id]
    ).fetchall()}

    def send(chunk: list[ChunkRow]) -> None:
        """Hand a chunk to the workers, its rows that an earlier run stored with their stored
        records."""
        again = [row[0] for row in chunk if row[0] in taken]
        if again:
            plan.stored.update(stored_records(db, enterprise_id, again))
            chunk = [(text, serial, context, plan.stored.get(text))
                     for text, serial, context, _ in chunk]
        plan.chunks.append(chunk)
        runner.add(chunk)

    chunk: list[ChunkRow] = []
    for row_no, values in zip(table.numbers, table.rows, strict=True):
        serial_text, serial, context = rules.check(row_no, values)
        chunk.append((serial_text, serial, context, None))
        if serial_text in taken:
            plan.repeats.append((serial, context, row_no))
        else:
            plan.new_serials.append(serial_text)
        if len(chunk) == runner.chunk_size:
            send(chunk)
            chunk = []
    if chunk:
        send(chunk)
    return plan


def _publish(output: NewFile) -> None:
    """SIGNED.jsonl under its name, once its records are committed."""
    try:
        output.publish()
    except Conflict:
        raise Conflict(f"{output.path} appeared meanwhile; the records are stored: run the same "
                       "command with another --out to write them") from None
    except InvalidInput as error:
        raise InvalidInput(f"{error.message}; the records are stored: run the same command "
                           "again to write them") from None


def _store_and_write(db: Database, runner: ChunkRunner[SigningJob, ChunkRow,
                                                                    SignedChunk],
                     plan: _Plan, out: Path, audit_entry: Callable[[str], None],
                     progress: Callable[[int], None] | None) -> str:
    """Write SIGNED.jsonl and store the new records as the workers hand them over; the SHA-256
    of every record, in order.

    The new rows go to a staging table first (no write lock is held while most of them are
    signed). The one transaction that stores them begins when the last round of chunks is being
    signed (it holds the lock for about the time of a chunk, not of the run) and commits once
    every record is in and the file is on disk (``audit_entry`` is given the SHA-256 of the new
    records inside it); only then does the file appear."""
    from jdzhi.registry.db import transaction

    digest = hashlib.sha256()
    new_digest = hashlib.sha256()
    exists = f"{out} already exists; choose another name"
    with NewFile(out, exists=exists) as output, Staging(db) as staging, ExitStack() as storing:
        storing_begun = False
        for signed in runner.results():
            sent = plan.chunks.popleft()
            output.write(signed.lines)
            digest.update(b"".join(signed.records))
            new_rows = [(*context.stored, serial_text, record, label)
                        for (serial_text, _, context, earlier), record, label
                        in zip(sent, signed.records, signed.labels, strict=True)
                        if earlier is None]
            new_digest.update(b"".join(row[-2] for row in new_rows))
            staging.add(new_rows)
            if (plan.new_serials and not storing_begun
                    and runner.pending <= max(runner.workers, 1)):
                storing.enter_context(transaction(db))
                storing_begun = True
            if storing_begun:
                staging.move_to_registry()
            if progress is not None:
                progress(len(sent))
        output.finish()
        if plan.new_serials:
            if not storing_begun:
                storing.enter_context(transaction(db))
                staging.move_to_registry()
            audit_entry(new_digest.hexdigest())
        storing.close()  # commits
        # only after the commit, so that an output file always means its records are stored
        _publish(output)
    return digest.hexdigest()


def sign_csv(
    db: Database,
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
    from jdzhi.registry.licenses import effective_status_from

    if out.exists() or out.is_symlink():
        raise Conflict(f"{out} already exists; choose another name")
    if not out.parent.is_dir():
        raise InvalidInput(f"folder {out.parent} does not exist")
    base = resolve_base_url(db, base_url)
    now = utc_now()
    signer = _signer(db, key, now)
    info, enterprise, lic = signer.info, signer.enterprise, signer.license
    table = read_rows(records_csv)
    categories = list_categories(db)
    signed_time = format_time(now)
    job = SigningJob.create(
        secret=key.secret, base=base, signed_at=signed_time,
        line_head={"key_id": info.key_id, "enterprise_id": enterprise.id,
                   "enterprise": enterprise.name, "enterprise_short_name": enterprise.short_name,
                   "license_no": lic.license_no},
        categories=categories,
    )
    rules = RowRules(
        columns=table.columns, signed_at=signed_time, key_id=info.key_id,
        enterprise_id=enterprise.id, license_no=lic.license_no,
        licensed=frozenset(lic.categories), categories=categories, now=now,
        status_on=lambda moment: effective_status_from(signer.events, lic.valid_from, moment),
    )
    count, encoding = len(table.rows), table.encoding
    # Workers sign the rows checked so far while later rows are being checked; a bad row
    # discards every signature made, before anything is stored or written.
    runner: ChunkRunner[SigningJob, ChunkRow, SignedChunk]
    with ChunkRunner(sign_chunk, job, expected=count, preload=sign_chunk.__module__,
                     parallel=parallel) as runner:
        plan = _check_and_send(db, table, rules, runner)
        del table
        for serial, context, row_no in plan.repeats:
            if not same_content(plan.stored[str(serial)], replace(context.fields, serial=serial)):
                raise Conflict(f"row {row_no}: serial {serial} was signed before for "
                               f"{enterprise.name} with other content or another key; "
                               "nothing was signed")
        batches = tuple(sorted({context.fields.batch for context in rules.contexts.values()}))

        def audit_entry(new_sha256: str) -> None:
            audit.append(
                db, action="records.sign", entity=f"signed_records:{enterprise.id}:{signed_time}",
                before=None, after={"count": len(plan.new_serials), "sha256": new_sha256},
                details={"key_id": info.key_id, "count": len(plan.new_serials),
                         "batches": list(batches), "first_serial": plan.new_serials[0],
                         "last_serial": plan.new_serials[-1]},
            )

        records_sha256 = _store_and_write(db, runner, plan, out, audit_entry, progress)
    return SignSummary(count, str(out), enterprise.id, enterprise.name, info.key_id,
                       lic.license_no, now, base, batches, records_sha256,
                       already_signed=count - len(plan.new_serials),
                       source_encoding=encoding)
