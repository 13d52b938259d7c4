"""Scans sent to the server: verified, judged for clones, counted and stored.

Two kinds of scan, two kinds of evidence:

* an **inspector** scan (authenticated by token) goes into the scan log (``scans``) and gets the
  clone rules of `jdzhi scan` against the log's sightings: it can be ``suspected-clone``, the
  verdict the registry acts on;
* an anonymous **page** scan goes into ``page_scans``. It counts toward ``checks`` and shows the
  registry's finding (a serial the log flagged is ``suspected-clone`` for everyone), but on its
  own it can only raise a ``clone_warning``, and only from distinct clients: each client (a salted
  hash, see :mod:`jdzhi.server._clients`) counts once per serial and day, at the first place it
  claimed that day. One client claiming a hundred places is one sighting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from jdzhi._format.scanning import scan_outcome_json
from jdzhi.registry.db import Database, transaction
from jdzhi.registry.enterprises import get_enterprise
from jdzhi.server import _service as lib
from jdzhi.timeutil import format_time, stored_time
from jdzhi.trace.scanning.months import ensure_months

__all__ = ["Judged", "ScanRequest", "TrustCache", "answer_json", "serial_status", "store_scans"]

Source = Literal["page", "inspector"]


@dataclass(frozen=True)
class ScanRequest:
    label: str
    source: Source
    #: the authenticated inspector's name ("" for a page scan)
    inspector: str
    where: lib.Location
    #: the client's salted hash for ``day``
    client: bytes
    day: str


def answer_json(value: Any) -> str:
    """JSON as the server answers it (Starlette's JSONResponse renders so)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


@dataclass(frozen=True)
class Judged:
    """A verdict on a label text and what every scan of it repeats, rendered once: its answer's
    JSON up to the per-scan fields, and its reasons as the scan tables store them."""

    outcome: lib.ScanOutcome
    head: str
    reasons: str

    @classmethod
    def of(cls, outcome: lib.ScanOutcome) -> Judged:
        return cls(outcome, answer_json(scan_outcome_json(outcome))[:-1],
                   json.dumps(list(outcome.reasons), ensure_ascii=False))

    def answer(self, checks: int | None, first_checked_at: str | None,
               clone_warning: str | None) -> bytes:
        """The answer to one scan: the outcome's JSON, then ``checks``, ``first_checked_at``
        and ``clone_warning`` (the fields `jdzhi scan --json` does not give)."""
        return (f'{self.head},"checks":{answer_json(checks)},"first_checked_at":'
                f'{answer_json(first_checked_at)},"clone_warning":'
                f'{answer_json(clone_warning)}}}').encode()


class TrustCache:
    """The registry's trust, rebuilt only when the audit log has grown (every change to keys,
    licenses, enterprises or endorsements appends to it), and the verdicts on the label texts
    scanned under it. A label scanned again within the same minute is not verified again: its
    verdict depends on the trust alone, and only the reasons that say what happened since
    signing (a later revocation) on the clock, which they follow to the minute."""

    #: verdicts kept at most (a few kilobytes each)
    MAX_OUTCOMES = 10_000

    def __init__(self) -> None:
        self._head: int | None = None
        self._trust: lib.Trust | None = None
        self._minute: datetime | None = None
        self._outcomes: dict[str, Judged] = {}

    def verifier(self, db: Database, now: datetime) -> lib.Verifier:
        """A verifier at ``now`` under the registry's current trust."""
        head = int(db.execute("SELECT coalesce(max(seq), 0) FROM audit_log").fetchone()[0])
        minute = now.replace(second=0, microsecond=0)
        if self._trust is None or head != self._head or minute != self._minute:
            if self._trust is None or head != self._head:
                self._trust, self._head = lib.trust_from_registry(db), head
            self._minute = minute
            self._outcomes.clear()
        return lib.Verifier(self._trust, now)

    def outcome(self, check: lib.Verifier, text: str) -> Judged:
        """The verdict on a label text (``check`` from :meth:`verifier` of this moment)."""
        found = self._outcomes.get(text)
        if found is None:
            if len(self._outcomes) >= self.MAX_OUTCOMES:
                self._outcomes.clear()
            found = self._outcomes[text] = Judged.of(lib.label_outcome(check, text))
        return found


def store_scans(db: Database, trust: TrustCache, requests: list[ScanRequest],
                now: datetime) -> list[bytes]:
    """Judge and store a batch of scans in one transaction (one commit for them all); the
    answers, rendered as JSON, are in the order of ``requests``."""
    policy = lib.ClonePolicy()
    check = trust.verifier(db, now)
    moment = _Moment(now, format_time(now), format_time(now - timedelta(days=policy.window_days)))
    with transaction(db):
        ensure_months(db, now)
        return [_judge_and_store(db, trust.outcome(check, request.label), request, moment,
                                 policy) for request in requests]


@dataclass(frozen=True)
class _Moment:
    """The time of a batch of scans, and as stored: it and the start of the clone window."""

    now: datetime
    text: str
    window_start: str


def _judge_and_store(db: Database, judged: Judged, request: ScanRequest,
                     moment: _Moment, policy: lib.ClonePolicy) -> bytes:
    if request.source == "inspector":
        return _inspector_scan(db, judged.outcome, request, moment, policy)
    return _page_scan(db, judged, request, moment, policy)


def _inspector_scan(db: Database, outcome: lib.ScanOutcome, request: ScanRequest,
                    moment: _Moment, policy: lib.ClonePolicy) -> bytes:
    """The clone rules of `jdzhi scan` against the scan log, and the scan logged."""
    serial, enterprise_id = outcome.serial, lib.enterprise_id_of(outcome)
    if outcome.genuine and serial is not None and enterprise_id is not None:
        reasons = lib.clone_reasons(moment.now, request.where,
                                    lib.earlier_sightings(db, enterprise_id, serial), policy)
        if reasons:
            outcome = lib.as_suspected_clone(outcome, reasons)
    lib.log_scan(db, moment.text, request.inspector, request.where, outcome)
    counts = _checks(db, enterprise_id, serial)
    return Judged.of(outcome).answer(counts["checks"], counts["first_checked_at"], None)


def _page_scan(db: Database, judged: Judged, request: ScanRequest,
               moment: _Moment, policy: lib.ClonePolicy) -> bytes:
    """The scan log's finding shown, a warning from distinct clients, the scan counted. (The
    hot path of the server: five statements; the verdict's JSON rendered once a minute.)"""
    outcome = judged.outcome
    enterprise_id, serial = lib.enterprise_id_of(outcome), outcome.serial
    logged: tuple[int, str | None, str | None] = (0, None, None)
    warning: str | None = None
    if enterprise_id is not None and serial is not None:
        # the scan log's count, first sighting and latest clone verdict of the serial
        logged = db.execute(
            "SELECT count(*), min(scanned_at), "
            "max(CASE WHEN verdict = 'suspected-clone' THEN scanned_at END) FROM scans "
            "WHERE enterprise_id = ? AND serial = ?", [enterprise_id, serial]).fetchone()
        if outcome.genuine:
            if logged[2] is not None:
                judged = Judged.of(lib.as_suspected_clone(outcome, [
                    f"suspected clone: the registry's inspectors flagged this serial "
                    f"({logged[2]})"]))
            warning = _anonymous_warning(db, request, enterprise_id, serial, moment, policy)
    db.execute(
        "INSERT INTO page_scans (scanned_at, location, latitude, longitude, verdict, "
        "enterprise_id, serial, label_text, reasons) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [moment.text, request.where.text, request.where.latitude, request.where.longitude,
         judged.outcome.verdict, enterprise_id, serial, request.label, judged.reasons])
    if enterprise_id is None or serial is None:
        return judged.answer(None, None, warning)
    checks, first = db.execute(
        "INSERT INTO page_checks (enterprise_id, serial, checks, first_checked_at) "
        "VALUES (?, ?, 1, ?) ON CONFLICT (enterprise_id, serial) "
        "DO UPDATE SET checks = page_checks.checks + 1 RETURNING checks, first_checked_at",
        [enterprise_id, serial, moment.text]).fetchone()
    return judged.answer(checks + logged[0],
                         min(at for at in (first, logged[1]) if at is not None), warning)


def _latest_flag(db: Database, enterprise_id: int,
                 serial: str) -> tuple[str, list[str]] | None:
    """When the scan log last judged a serial a suspected clone, and the clone reasons then."""
    found = db.execute(
        "SELECT scanned_at, reasons FROM scans WHERE enterprise_id = ? AND serial = ? "
        "AND verdict = 'suspected-clone' ORDER BY scanned_at DESC, id DESC LIMIT 1",
        [enterprise_id, serial]).fetchone()
    if found is None:
        return None
    return found[0], [r for r in json.loads(found[1]) if r.startswith("suspected clone")]


def _anonymous_warning(db: Database, request: ScanRequest,
                       enterprise_id: int | None, serial: str, moment: _Moment,
                       policy: lib.ClonePolicy) -> str | None:
    """The clone rules over distinct clients' first places of the day, as a warning."""
    place = _coarse(request.where)
    db.execute(
        "INSERT INTO page_scan_clients (enterprise_id, serial, day, client, "
        "scanned_at, location, latitude, longitude) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        [enterprise_id, serial, request.day, request.client, moment.text, place.text,
         place.latitude, place.longitude])
    here: lib.Location | None = None
    others: list[lib.Sighting] = []
    for day, client, at, text, latitude, longitude in db.execute(
        "SELECT day, client, scanned_at, location, latitude, longitude FROM page_scan_clients "
        "WHERE enterprise_id = ? AND serial = ? AND scanned_at >= ? ORDER BY scanned_at",
        [enterprise_id, serial, moment.window_start],
    ).fetchall():
        place = lib.Location(text, latitude, longitude)
        if day == request.day and bytes(client) == request.client:
            here = place
        else:
            others.append(lib.Sighting(stored_time(at), "", place, ""))
    assert here is not None  # inserted above, or there since earlier today
    reasons = lib.clone_reasons(moment.now, here, others, policy)
    if not reasons:
        return None
    # the first reason is the finding; the others would show other people's sightings
    return "clone warning from anonymous page checks (each client once a day): " + (
        reasons[0].removeprefix("suspected clone: "))


def _coarse(where: lib.Location) -> lib.Location:
    """Coordinates to 0.01 degree (about 1 km): a warning may name the place of a sighting, and
    a page scan's sender is a member of the public (the clone rules count 25 km as one place)."""
    if where.latitude is None or where.longitude is None:
        return where
    latitude, longitude = round(where.latitude, 2), round(where.longitude, 2)
    return lib.Location(f"{latitude:.2f},{longitude:.2f}", latitude, longitude)


def _checks(db: Database, enterprise_id: int | None,
            serial: str | None) -> dict[str, Any]:
    """How often a serial has been checked (page and logged scans) and since when."""
    if enterprise_id is None or serial is None:
        return {"checks": None, "first_checked_at": None}
    page = db.execute("SELECT checks, first_checked_at FROM page_checks "
                      "WHERE enterprise_id = ? AND serial = ?", [enterprise_id, serial]).fetchone()
    logged = db.execute("SELECT count(*), min(scanned_at) FROM scans "
                        "WHERE enterprise_id = ? AND serial = ?",
                        [enterprise_id, serial]).fetchone()
    firsts = [at for at in (page[1] if page else None, logged[1]) if at is not None]
    return {"checks": (page[0] if page else 0) + logged[0],
            "first_checked_at": min(firsts) if firsts else None}


def serial_status(db: Database, enterprise_ref: str, serial: str) -> dict[str, Any]:
    """What the registry knows of one serial: signed, checks, and the clone finding."""
    from jdzhi.errors import InvalidInput

    if not (serial.isascii() and serial.isdigit()) or len(serial) > 20:
        raise InvalidInput(f"serial {serial[:40]!r} is not a serial number")
    serial = str(int(serial))
    found = get_enterprise(db, enterprise_ref)
    signed = db.execute("SELECT 1 FROM signed_records WHERE enterprise_id = ? AND serial = ?",
                        [found.id, serial]).fetchone() is not None
    flag = _latest_flag(db, found.id, serial)
    return {"enterprise_id": found.id, "enterprise": found.name, "serial": serial,
            "signed": signed, **_checks(db, found.id, serial),
            "suspected_clone": flag is not None, "reasons": flag[1] if flag else []}
