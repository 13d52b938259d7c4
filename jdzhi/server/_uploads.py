"""What signers upload: signed records, lab endorsements and trust bundles. Each is checked
against the keys the authority certified before anything is stored, and stored in one
transaction with its audit entry; sending the same thing again changes nothing."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jdzhi.errors import Conflict, IntegrityError, InvalidInput, NotFound, NotGenuine
from jdzhi.registry import audit
from jdzhi.registry.db import Database, transaction
from jdzhi.registry.enterprises import enterprise_by_id
from jdzhi.server import _service as lib
from jdzhi.server.errors import ApiError
from jdzhi.timeutil import format_time

__all__ = ["RecordsStored", "current_bundle", "publish_bundle", "store_endorsement",
           "store_records"]

#: a signature time further ahead of the server's clock than this is refused
CLOCK_SKEW = timedelta(minutes=5)

#: a signed record's row in ``signed_records``, as `jdzhi sign` stores it
_COLUMNS = ("enterprise_id", "serial", "key_id", "batch", "category_code", "production_date",
            "signed_at", "record", "label")


@dataclass(frozen=True)
class RecordsStored:
    stored: int
    already_stored: int


def _checked_rows(db: Database, text: str, now: datetime, first_line: int
                  ) -> tuple[dict[tuple[int, str], tuple[int, tuple[Any, ...]]], int]:
    """Every line verified as `jdzhi verify` does, as (line number, row) by (enterprise, serial),
    and the number of lines; the first bad line stops everything."""
    check = lib.Verifier(lib.trust_from_registry(db), now)
    latest = now + CLOCK_SKEW
    rows: dict[tuple[int, str], tuple[int, tuple[Any, ...]]] = {}
    lines = 0
    for number, line in enumerate(text.splitlines(), start=first_line):
        if not line.strip():
            continue
        lines += 1
        try:
            result = check.signed_line(line, number)
        except RecursionError:  # json.loads of deeply nested arrays, inside the verifier
            raise InvalidInput(f"line {number} is nested too deeply; nothing was stored") from None
        if not result.genuine:
            reason = result.reasons[0] if result.reasons else str(result.verdict)
            raise NotGenuine(f"line {number} is {result.verdict}: "
                               f"{reason.removeprefix(f'line {number}: ')}; nothing was stored")
        if result.signed_at is not None and result.signed_at > latest:
            raise InvalidInput(f"line {number} is signed in the future "
                               f"({format_time(result.signed_at)}); nothing was stored")
        entry = json.loads(line)
        fields = lib.record_fields(entry["record"])
        row = (fields.enterprise_id, str(fields.serial), fields.key_id, fields.batch,
               fields.category_code, fields.production_date.isoformat(),
               lib.unix_to_text(fields.signed_at), lib.base64url_decode(entry["record"]),
               entry["label"])
        earlier = rows.setdefault(row[:2], (number, row))
        if earlier[1] != row:
            raise Conflict(f"line {number}: serial {row[1]} is on line {earlier[0]} too, with "
                           "other content; nothing was stored")
    if not rows:
        raise InvalidInput("the body holds no signed records")
    return rows, lines


def store_records(db: Database, text: str, now: datetime, *,
                  first_line: int = 1) -> RecordsStored:
    """Store SIGNED.jsonl lines: all or none; lines stored before count as already stored.
    Errors name lines counting from ``first_line`` (the body's first line in the sender's
    file)."""
    rows, lines = _checked_rows(db, text, now, first_line)
    already = lines - len(rows)  # a line sent twice in one upload
    stored_by_enterprise: dict[int, list[bytes]] = {}
    # the serial's uniqueness is the table's constraint: insert, and only when the serial is
    # there already compare (no check-then-insert, whatever the write lock does)
    insert = (f"INSERT INTO signed_records ({', '.join(_COLUMNS)}) "
              f"VALUES ({', '.join('?' * len(_COLUMNS))}) "
              "ON CONFLICT (enterprise_id, serial) DO NOTHING RETURNING id")
    with transaction(db):
        for (enterprise_id, serial), (number, row) in rows.items():
            if db.execute(insert, list(row)).fetchone() is not None:
                stored_by_enterprise.setdefault(enterprise_id, []).append(row[7])
                continue
            found = db.execute("SELECT record, label FROM signed_records "
                               "WHERE enterprise_id = ? AND serial = ?",
                               [enterprise_id, serial]).fetchone()
            if bytes(found[0]) == row[7] and found[1] == row[8]:
                already += 1
            else:
                raise Conflict(f"line {number}: serial {serial} of enterprise {enterprise_id} is "
                               "stored already with other content; nothing was stored")
        for enterprise_id, records in stored_by_enterprise.items():
            audit.append(db, action="records.upload",
                         entity=f"signed_records:{enterprise_id}:{format_time(now)}",
                         before=None, after={"count": len(records), "sha256": hashlib.sha256(
                             b"".join(records)).hexdigest()},
                         details={"count": len(records), "source": "jdzhi server"})
    stored = sum(len(records) for records in stored_by_enterprise.values())
    return RecordsStored(stored, already)


def store_endorsement(db: Database, message: bytes, now: datetime
                      ) -> tuple[dict[str, Any], bool]:
    """Store a lab's endorsement checked against the lab's certified key; (its JSON, whether it
    is new). The same endorsement again changes nothing; another under its report number is a
    conflict."""
    endorsement = lib.checked_endorsement(db, message)
    if lib.from_unix(endorsement.signed_at) > now + CLOCK_SKEW:
        raise InvalidInput("the endorsement is signed in the future")
    enterprise = enterprise_by_id(db, endorsement.enterprise_id)
    answer = {**lib.endorsement_json(endorsement), "enterprise": enterprise.name}
    with transaction(db):  # the report number's uniqueness is the table's constraint
        inserted = db.execute(
            "INSERT INTO endorsements (lab_id, key_id, enterprise_id, batch, outcome, report_no, "
            "tested_at, signed_at, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (lab_id, report_no) DO NOTHING RETURNING id",
            [endorsement.lab_id, endorsement.key_id, endorsement.enterprise_id,
             endorsement.batch, endorsement.outcome, endorsement.report_no,
             lib.unix_to_text(endorsement.tested_at), lib.unix_to_text(endorsement.signed_at),
             message]).fetchone()
        if inserted is None:
            (found,) = db.execute("SELECT message FROM endorsements WHERE lab_id = ? "
                                  "AND report_no = ?",
                                  [endorsement.lab_id, endorsement.report_no]).fetchone()
            if bytes(found) == message:
                return answer, False
            raise Conflict(f"report {endorsement.report_no} of lab {endorsement.lab_id} is "
                           "recorded already with other content")
        audit.record_row_change(db, action="lab.endorse", table="endorsements",
                                key=int(inserted[0]), before=None,
                                details={"outcome": endorsement.outcome,
                                         "source": "jdzhi server"})
    return answer, True


def publish_bundle(db: Database, data: bytes, now: datetime) -> dict[str, Any]:
    """Make a bundle the current one: signed by this home's authority key, not expired, issued
    after the current one and its log a consistent extension of the current one's (the rule a
    verifier applies to the bundles it accepted before)."""
    authority = lib.authority_public_key(db)
    trust = lib.checked_bundle(data, authority, now)
    assert trust.expires_at is not None
    issued, expires = lib.unix_to_text(trust.issued_at), lib.unix_to_text(trust.expires_at)
    if trust.stale_at(int(now.timestamp())):
        raise InvalidInput(f"the bundle expired on {expires}: export a fresh one")
    with transaction(db):
        current = db.execute("SELECT issued_at, bundle FROM published_bundles "
                             "ORDER BY issued_at DESC LIMIT 1").fetchone()
        if current is not None:
            if issued <= current[0]:
                raise Conflict(f"the bundle was issued {issued}, not after the current one "
                               f"({current[0]}): nothing changed")
            _check_extends(trust, lib.checked_bundle(bytes(current[1]), authority, now))
        cursor = db.execute(
            "INSERT INTO published_bundles (issued_at, expires_at, published_at, sha256, bundle) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id",
            [issued, expires, format_time(now), hashlib.sha256(data).hexdigest(), data])
        audit.record_row_change(db, action="trust.publish", table="published_bundles",
                                key=int(cursor.fetchone()[0]), before=None)
    return {"issued_at": issued, "expires_at": expires, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "keys": len(trust.keys),
            "enterprises": len(trust.enterprises), "endorsements": len(trust.endorsements)}


def _check_extends(trust: lib.Trust, current: lib.Trust) -> None:
    try:
        lib.check_extends(trust, lib.checkpoint_note(current))
    except IntegrityError as error:
        # a conflict with what is published (409), an integrity failure to the client (`jdzhi
        # trust publish` exits 8, as `jdzhi verify --trust` does for a rollback or a fork)
        raise ApiError(409, IntegrityError.code, f"{error.message} (the checkpoint accepted "
                       "before is the current bundle's, which stays)") from None


def current_bundle(db: Database) -> bytes:
    found = db.execute("SELECT bundle FROM published_bundles ORDER BY issued_at DESC "
                       "LIMIT 1").fetchone()
    if found is None:
        raise NotFound("no trust bundle is published yet: POST one made by `jdzhi trust export` "
                       "to /api/v1/trust")
    return bytes(found[0])
