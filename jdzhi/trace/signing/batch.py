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

Two homes sign (:func:`sign_in_home`). The service center's home checks the key and its license
against its registry and stores the records there (one audit entry per run). A workshop at its
kiln has no registry: it signs with ``trust``, the service center's trust bundle, checked as
`jdzhi verify --trust` checks it, and stores the records in its home's ``workshop.db``
(:mod:`jdzhi.trace.signing._workshop_store`, the same table). Either way the signer is found in
a :class:`~jdzhi.trace.trust.model.Trust` by one rule (:mod:`jdzhi.trace.signing._signer`), the
rows are checked by the same rules, and SIGNED.jsonl is the same format. A home that has a
registry and is given a bundle checks against the bundle (which must be its own authority's) and
stores in its registry.
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

from jdzhi.errors import Conflict, InvalidInput, InvalidState
from jdzhi.files import NewFile
from jdzhi.inputs import Encoding
from jdzhi.timeutil import format_time, from_unix, utc_now
from jdzhi.trace.signing._chunks import ChunkRow, SignedChunk, SigningJob, sign_chunk
from jdzhi.trace.signing._rows import REQUIRED_COLUMNS, RecordRows, RowContext, RowRules, read_rows
from jdzhi.trace.signing._signer import Signer, bundle_base_url, resolve_signer
from jdzhi.trace.signing._staging import Staging, StoredRecord, same_content, stored_records

if TYPE_CHECKING:
    from jdzhi.home import Home
    from jdzhi.parallel import ChunkRunner
    from jdzhi.registry.db import Database
    from jdzhi.trace.keys.keyfile import SigningKey
    from jdzhi.trace.trust.model import Trust

__all__ = ["REQUIRED_COLUMNS", "BundleCheck", "SignSummary", "resolve_base_url", "sign_csv",
           "sign_in_home"]


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
    #: what the key and license were checked against: ``registry`` or ``bundle <path>``
    trust: str = "registry"
    #: where the records are stored: ``registry`` or ``workshop`` (the home's workshop.db)
    stored_in: str = "registry"
    #: what the trust bundle's checks noted (an unlogged bundle, no memory of bundles)
    warnings: tuple[str, ...] = ()


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
class BundleCheck:
    """A trust bundle to sign against and how to check it: as `jdzhi verify --trust` does
    (:func:`jdzhi.trace.verification.verifier.load_trust`)."""

    path: Path
    #: the authority's raw public key; None: the home's registry's
    authority: bytes | None = None
    max_age_days: int | None = None
    #: witnesses whose cosignature of the bundle's checkpoint is required
    witnesses: tuple[str, ...] = ()


#: the "not initialized" error of a home with neither a registry nor a bundle to sign against
_NO_REGISTRY = ("no registry at {home}: run `jdzhi init` first, or, at a workshop, sign against "
                "the service center's trust bundle: `jdzhi sign RECORDS.csv --key KEYFILE --out "
                "SIGNED.jsonl --trust trust.cbor --authority authority.pub`")


def sign_in_home(home: Home, records_csv: Path, *, key: SigningKey, out: Path,
                 bundle: BundleCheck | None = None, base_url: str | None = None,
                 progress: Callable[[int], None] | None = None,
                 parallel: bool = False) -> SignSummary:
    """`jdzhi sign` in ``home``: :func:`sign_csv` against its registry, or against ``bundle``
    (checked first), storing the records in the registry, else (a workshop) in the home's
    workshop store, made on first use once the bundle is accepted."""
    from jdzhi.errors import NotInitialized
    from jdzhi.registry.db import open_registry
    from jdzhi.trace.signing._workshop_store import open_workshop_store
    from jdzhi.trace.verification.verifier import load_trust

    def trust() -> Trust | None:
        return None if bundle is None else load_trust(
            home=home, bundle=bundle.path, authority=bundle.authority,
            max_age_days=bundle.max_age_days, witnesses=bundle.witnesses)

    if home.has_registry:
        db = open_registry(home)
        try:
            return sign_csv(db, records_csv, key=key, out=out, base_url=base_url, trust=trust(),
                            progress=progress, parallel=parallel)
        finally:
            db.close()
    if bundle is None:
        raise NotInitialized(_NO_REGISTRY.format(home=home.path))
    checked = trust()
    db = open_workshop_store(home)
    try:
        return sign_csv(db, records_csv, key=key, out=out, base_url=base_url, trust=checked,
                        progress=progress, parallel=parallel)
    finally:
        db.close()


@dataclass(frozen=True)
class _Setup:
    """Who signs, with which base, and where the records are stored."""

    signer: Signer
    base: str
    trust: Trust
    workshop: bool


def _setup(db: Database, key: SigningKey, base_url: str | None,
           trust: Trust | None, now: datetime) -> _Setup:
    from jdzhi.trace.signing._workshop_store import is_workshop_store
    from jdzhi.trace.trust.from_registry import signing_trust

    workshop = is_workshop_store(db)
    if trust is None:
        if workshop:
            raise InvalidInput("a workshop store signs only against a trust bundle: give one")
        base = resolve_base_url(db, base_url)
        trust = signing_trust(db, key.public_key)
        return _Setup(resolve_signer(trust, key.public_key, now), base, trust, workshop=False)
    base = bundle_base_url(trust, base_url)
    if workshop:
        _check_workshop_authority(db, trust)
    else:
        _check_registry_authority(db, trust)
    signer = resolve_signer(trust, key.public_key, now)
    if not workshop:
        _check_registry_holds(db, signer)
    return _Setup(signer, base, trust, workshop)


def _check_registry_authority(db: Database, trust: Trust) -> None:
    """A bundle given in a home that has a registry: the records go to that registry (its ids of
    enterprises and keys), so the bundle must be of the registry's authority."""
    from jdzhi.trace.keys.certified import registry_authority_key

    if trust.authority_public_key != registry_authority_key(db):
        raise InvalidState("the trust bundle is of another authority than this home's registry, "
                           "where the records would be stored: sign in a home without a "
                           "registry (a workshop's); nothing was signed")


def _check_registry_holds(db: Database, signer: Signer) -> None:
    """The key the bundle certifies is one the registry holds (else it is an older copy)."""
    held = db.execute("SELECT public_key FROM trust_keys WHERE key_id = ?",
                      [signer.key.key_id]).fetchone()
    if held is None or bytes(held[0]) != signer.key.public_key:
        raise InvalidState(f"the trust bundle certifies key {signer.key.key_id}, which this "
                           "home's registry does not hold (an older copy of the registry?); "
                           "nothing was signed")


def _check_workshop_authority(db: Database, trust: Trust) -> None:
    """A workshop store keeps the records of one authority's enterprises (their ids are that
    registry's): a bundle of another authority is refused."""
    from jdzhi.trace.formats.common import authority_kid

    kid = authority_kid(trust.authority_public_key).hex()
    other = db.execute("SELECT authority_kid FROM signing_runs WHERE authority_kid != ? LIMIT 1",
                       [kid]).fetchone()
    if other is not None:
        raise InvalidState(f"this home signed under another authority ({other[0]}) than the "
                           f"trust bundle's ({kid}): sign in a home of its own; nothing was "
                           "signed")


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
    trust: Trust | None = None,
    progress: Callable[[int], None] | None = None,
    parallel: bool = False,
) -> SignSummary:
    """Sign every row of ``records_csv`` with ``key``; see the module docstring. ``db`` is the
    home's registry or its workshop store; ``trust``, a trust bundle already checked, is what the
    key and license are checked against instead of the registry. ``parallel`` signs a big batch
    on every core (:mod:`jdzhi.parallel`)."""
    from jdzhi.parallel import ChunkRunner

    if out.exists() or out.is_symlink():
        raise Conflict(f"{out} already exists; choose another name")
    if not out.parent.is_dir():
        raise InvalidInput(f"folder {out.parent} does not exist")
    now = utc_now()
    setup = _setup(db, key, base_url, trust, now)
    signer = setup.signer
    table = read_rows(records_csv)
    signed_time = format_time(now)
    enterprise, lic, key_id = signer.enterprise, signer.license, signer.key.key_id
    job = SigningJob.create(
        secret=key.secret, base=setup.base, signed_at=signed_time,
        line_head={"key_id": key_id, "enterprise_id": enterprise.id,
                   "enterprise": enterprise.name, "enterprise_short_name": enterprise.short_name,
                   "license_no": lic.license_no},
        categories=signer.categories,
    )
    rules = RowRules(
        columns=table.columns, signed_at=signed_time, key_id=key_id,
        enterprise_id=enterprise.id, license_no=lic.license_no, licensed=signer.licensed,
        categories=signer.categories, now=now, status_on=signer.license_status_at,
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
        records_sha256 = _store_and_write(
            db, runner, plan, out, _run_recorder(db, setup, signed_time, batches, plan.new_serials),
            progress)
    return SignSummary(count, str(out), enterprise.id, enterprise.name, key_id,
                       lic.license_no, now, setup.base, batches, records_sha256,
                       already_signed=count - len(plan.new_serials), source_encoding=encoding,
                       trust=setup.trust.source,
                       stored_in="workshop" if setup.workshop else "registry",
                       warnings=setup.trust.warnings)


def _run_recorder(db: Database, setup: _Setup, signed_time: str,
                  batches: tuple[str, ...], serials: list[str]) -> Callable[[str], None]:
    """What records a run's new records, given their SHA-256, in the transaction that stores
    them: the registry's audit entry, or the workshop store's run row."""
    enterprise_id, key_id = setup.signer.enterprise.id, setup.signer.key.key_id

    def record(new_sha256: str) -> None:
        if setup.workshop:
            from jdzhi.trace.formats.common import authority_kid
            from jdzhi.trace.signing._workshop_store import record_run

            record_run(db, enterprise_id=enterprise_id, key_id=key_id, signed_at=signed_time,
                       sha256=new_sha256, batches=list(batches), serials=serials,
                       authority_kid=authority_kid(setup.trust.authority_public_key).hex(),
                       bundle_issued_at=format_time(from_unix(setup.trust.issued_at)))
            return
        from jdzhi.registry import audit

        details: dict[str, Any] = {"key_id": key_id, "count": len(serials),
                                   "batches": list(batches), "first_serial": serials[0],
                                   "last_serial": serials[-1]}
        if setup.trust.source != "registry":
            details["bundle_issued_at"] = format_time(from_unix(setup.trust.issued_at))
        audit.append(
            db, action="records.sign", entity=f"signed_records:{enterprise_id}:{signed_time}",
            before=None, after={"count": len(serials), "sha256": new_sha256}, details=details)

    return record
