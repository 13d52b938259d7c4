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
from bisect import insort
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any, Literal

from jdzhi._format.scanning import scan_outcome_json
from jdzhi.registry.db import Database, scan_transaction
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


#: JSON as the server answers it (Starlette's JSONResponse renders so); one encoder for every
#: answer, since ``json.dumps`` with options builds a new one each call
answer_json = json.JSONEncoder(ensure_ascii=False, allow_nan=False,
                               separators=(",", ":")).encode


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
        return (f'{self.head},"checks":{"null" if checks is None else int(checks)},'
                f'"first_checked_at":{answer_json(first_checked_at)},"clone_warning":'
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
    answers, rendered as JSON, are in the order of ``requests``. Each scan is judged as if the
    scans before it had been stored one by one."""
    policy = lib.ClonePolicy()
    check = trust.verifier(db, now)
    moment = _Moment(now, format_time(now), format_time(now - timedelta(days=policy.window_days)))
    judged = [(request, trust.outcome(check, request.label)) for request in requests]
    serials = {key for _, found in judged if (key := _key_of(found.outcome)) is not None}
    answers: list[bytes] = []
    ensure_months(db, now)  # before: making a partition waits for every writer of the logs
    with scan_transaction(db, serials):
        # page scans read the scan log that inspector scans write, and inspector scans the
        # page's counts: each run of one kind is judged and stored before the next
        for source, group in groupby(judged, key=lambda scan: scan[0].source):
            run = list(group)
            if source == "inspector":
                answers += [_inspector_scan(db, found.outcome, request, moment, policy)
                            for request, found in run]
            else:
                answers += _PageRun(db, moment, policy, run).store()
    return answers


@dataclass(frozen=True)
class _Moment:
    """The time of a batch of scans, and as stored: it and the start of the clone window."""

    now: datetime
    text: str
    window_start: str


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


#: a serial of an enterprise, as the scan tables key it
_Key = tuple[int, str]


@dataclass(frozen=True)
class _ClientDay:
    """A row of ``page_scan_clients``: a client's first place of a day for one serial."""

    day: str
    client: bytes
    scanned_at: str
    place: lib.Location


class _PageRun:
    """Consecutive page scans, stored with a few statements for them all (the hot path of the
    server): what they read is read once, each is judged in order in memory, what they write
    is written at the end. The caller's transaction holds the serials' locks: the rows read
    stay as read until it ends."""

    def __init__(self, db: Database, moment: _Moment, policy: lib.ClonePolicy,
                 scans: list[tuple[ScanRequest, Judged]]) -> None:
        self.db, self.moment, self.policy, self.scans = db, moment, policy, scans
        keys = {key for _, found in scans if (key := _key_of(found.outcome)) is not None}
        genuine = {key for _, found in scans
                   if found.outcome.genuine and (key := _key_of(found.outcome)) is not None}
        self.logged = self._logged(sorted(keys))
        self.clients = self._clients(sorted(genuine))
        self.new_clients: list[list[Any]] = []

    def store(self) -> list[bytes]:
        judged: list[tuple[Judged, _Key | None, str | None]] = []
        page_rows: list[list[Any]] = []
        for request, found in self.scans:
            key, warning = _key_of(found.outcome), None
            if key is not None and found.outcome.genuine:
                flagged = self.logged.get(key, (0, None, None))[2]
                if flagged is not None:
                    found = Judged.of(lib.as_suspected_clone(found.outcome, [
                        f"suspected clone: the registry's inspectors flagged this serial "
                        f"({flagged})"]))
                warning = self._anonymous_warning(key, request)
            judged.append((found, key, warning))
            page_rows.append([self.moment.text, request.where.text, request.where.latitude,
                              request.where.longitude, found.outcome.verdict,
                              None if key is None else key[0], None if key is None else key[1],
                              request.label, found.reasons])
        if self.new_clients:
            self.db.executemany(
                "INSERT INTO page_scan_clients (enterprise_id, serial, day, client, scanned_at, "
                "location, latitude, longitude) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING", self.new_clients)
        self.db.executemany(
            "INSERT INTO page_scans (scanned_at, location, latitude, longitude, verdict, "
            "enterprise_id, serial, label_text, reasons) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            page_rows)
        return self._answers(judged)

    def _answers(self, judged: list[tuple[Judged, _Key | None, str | None]]) -> list[bytes]:
        """Each scan's answer, its ``checks`` counted in order (page and logged scans)."""
        added = Counter(key for _, key, _ in judged if key is not None)
        totals = self._count_checks(added)
        seen: Counter[_Key] = Counter()
        answers = []
        for found, key, warning in judged:
            if key is None:
                answers.append(found.answer(None, None, warning))
                continue
            seen[key] += 1
            count, logged_first, _ = self.logged.get(key, (0, None, None))
            page_total, page_first = totals[key]
            first = min(at for at in (page_first, logged_first) if at is not None)
            answers.append(found.answer(page_total - added[key] + seen[key] + count, first,
                                        warning))
        return answers

    def _logged(self, keys: list[_Key]) -> dict[_Key, tuple[int, str | None, str | None]]:
        """The scan log's count, first sighting and latest clone verdict of each serial it has
        (one statement for up to _KEYS_AT_ONCE serials: on PostgreSQL each is a round trip)."""
        found = {}
        for chunk in _chunks(keys):
            for enterprise_id, serial, count, first, flagged in self.db.execute(
                    "SELECT enterprise_id, serial, count(*), min(scanned_at), "
                    "max(CASE WHEN verdict = 'suspected-clone' THEN scanned_at END) FROM scans "
                    f"WHERE {_any_serial(chunk)} GROUP BY enterprise_id, serial", _flat(chunk)):
                found[(enterprise_id, serial)] = (count, first, flagged)
        return found

    def _clients(self, keys: list[_Key]) -> dict[_Key, list[_ClientDay]]:
        """Each serial's clients of the clone window, oldest first (see _client_order). (The
        window's first day as well: PostgreSQL then reads only the months it spans.)"""
        found: dict[_Key, list[_ClientDay]] = {key: [] for key in keys}
        for chunk in _chunks(keys):
            for enterprise_id, serial, day, client, at, text, lat, lon in self.db.execute(
                    "SELECT enterprise_id, serial, day, client, scanned_at, location, latitude, "
                    f"longitude FROM page_scan_clients WHERE ({_any_serial(chunk)}) AND day >= ? "
                    "AND scanned_at >= ? ORDER BY scanned_at, day, client",
                    [*_flat(chunk), self.moment.window_start[:10], self.moment.window_start]):
                found[(enterprise_id, serial)].append(
                    _ClientDay(day, bytes(client), at, lib.Location(text, lat, lon)))
        return found

    def _anonymous_warning(self, key: _Key, request: ScanRequest) -> str | None:
        """The clone rules over distinct clients' first places of the day, as a warning; the
        client counted (once a serial and day, at its first place)."""
        rows = self.clients[key]
        here = next((row for row in rows
                     if row.day == request.day and row.client == request.client), None)
        if here is None:
            here = _ClientDay(request.day, request.client, self.moment.text,
                              _coarse(request.where))
            insort(rows, here, key=_client_order)
            self.new_clients.append([*key, here.day, here.client, here.scanned_at,
                                     here.place.text, here.place.latitude,
                                     here.place.longitude])
        others = [lib.Sighting(stored_time(row.scanned_at), "", row.place, "")
                  for row in rows if row is not here]
        reasons = lib.clone_reasons(self.moment.now, here.place, others, self.policy)
        if not reasons:
            return None
        # the first reason is the finding; the others would show other people's sightings
        return "clone warning from anonymous page checks (each client once a day): " + (
            reasons[0].removeprefix("suspected clone: "))

    def _count_checks(self, added: Counter[_Key]) -> dict[_Key, tuple[int, str]]:
        """Add each serial's new page checks to its count: its total and first check now."""
        totals = {}
        for chunk in _chunks(sorted(added)):
            for enterprise_id, serial, checks, first in self.db.execute(
                    "INSERT INTO page_checks (enterprise_id, serial, checks, first_checked_at) "
                    f"VALUES {', '.join(['(?, ?, ?, ?)'] * len(chunk))} "
                    "ON CONFLICT (enterprise_id, serial) "
                    "DO UPDATE SET checks = page_checks.checks + excluded.checks "
                    "RETURNING enterprise_id, serial, checks, first_checked_at",
                    [value for key in chunk for value in (*key, added[key], self.moment.text)]):
                totals[(enterprise_id, serial)] = (int(checks), str(first))
        return totals


#: serials named in one statement at most (its parameters stay far below any driver's limit)
_KEYS_AT_ONCE = 100


def _chunks(keys: list[_Key]) -> list[list[_Key]]:
    return [keys[start:start + _KEYS_AT_ONCE] for start in range(0, len(keys), _KEYS_AT_ONCE)]


def _any_serial(keys: list[_Key]) -> str:
    """A condition true for the rows of these serials: an OR of the serial index's lookups,
    which both databases answer from the index (a row-value IN list may be planned as a scan)."""
    return " OR ".join(["(enterprise_id = ? AND serial = ?)"] * len(keys))


def _flat(keys: list[_Key]) -> list[Any]:
    return [value for key in keys for value in key]


def _client_order(row: _ClientDay) -> tuple[str, str, bytes]:
    """The order of a serial's clients: the clone rules name the first sighting they find."""
    return row.scanned_at, row.day, row.client


def _key_of(outcome: lib.ScanOutcome) -> _Key | None:
    enterprise_id, serial = lib.enterprise_id_of(outcome), outcome.serial
    return None if enterprise_id is None or serial is None else (enterprise_id, serial)


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
