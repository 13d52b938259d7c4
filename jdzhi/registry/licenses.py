"""Licenses to use the mark, their status history, and whether one is valid at a moment.

A license's history is a sequence of events in effective-time order: ``issue`` (active, with the
first end date), then ``suspend``, ``revoke``, ``reinstate`` and ``renew`` (a new end date). An
event may be recorded after the fact with an effective time in the past, but never before the
latest event already in force, so the history always reads as one consistent story.

*Valid at t* means: the event in force at t (the latest whose ``effective_at <= t``) is active,
and t's calendar date in China Standard Time lies inside the window ``valid_from..valid_to`` that
was in force at t (renewals extend the window only from their effective time on). A license
that is active but past its end date is *expired*; it is never stored as such. The rule itself
is :func:`jdzhi.trace.trust.status.license_status_at`, shared with verification.

A suspension or revocation effective now or earlier always goes through, even over a change
dated later: that pending change is *superseded* — kept in the history with its reason, never in
force. Changes may be dated at most a year ahead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeGuard, get_args

from jdzhi.errors import InvalidInput, InvalidState, NotFound
from jdzhi.registry import audit
from jdzhi.registry.db import rows, transaction
from jdzhi.registry.enterprises import find_enterprise
from jdzhi.timeutil import format_time, stored_time, unix_time
from jdzhi.trace.trust.status import (
    LicenseEventStatus,
    LicenseStatus,
    LicenseStatusEvent,
    dated_change,
    license_status_at,
)

if TYPE_CHECKING:
    from jdzhi.registry.db import Database

__all__ = [
    "TRANSITIONS",
    "License",
    "LicenseAction",
    "LicenseEvent",
    "StatusAction",
    "StatusChange",
    "change_status",
    "current_license",
    "current_licenses",
    "effective_status",
    "effective_status_from",
    "event_history_by_license",
    "find_license",
    "get_license",
    "history",
    "insert_event",
    "is_valid_at",
    "licenses_of",
    "status_at",
]

LicenseAction = Literal["issue", "suspend", "revoke", "reinstate", "renew"]
#: the status changes people make after issue
StatusAction = Literal["suspend", "revoke", "reinstate", "renew"]

#: the status changes people make, and the statuses each one may start from
TRANSITIONS: dict[StatusAction, tuple[LicenseEventStatus, ...]] = {
    "suspend": ("active",),
    "revoke": ("active", "suspended"),
    "reinstate": ("suspended",),
    "renew": ("active", "suspended"),
}


def _is_status_action(action: str) -> TypeGuard[StatusAction]:
    return action in get_args(StatusAction)


@dataclass(frozen=True)
class License:
    """A license as stored: ``status*`` are those of its latest event (which may take effect
    later than now); use :func:`effective_status` or :func:`is_valid_at` for a given moment."""

    id: int
    license_no: str
    enterprise_id: int
    categories: tuple[str, ...]
    valid_from: date
    valid_to: date
    status: LicenseEventStatus
    status_reason: str
    status_effective_at: datetime


@dataclass(frozen=True)
class LicenseEvent:
    license_id: int
    status: LicenseEventStatus
    reason: str
    effective_at: datetime
    recorded_at: datetime
    actor: str
    action: LicenseAction = "issue"
    #: the license's end date from this event on (``issue`` and ``renew`` set it)
    valid_to: date | None = None
    #: a change recorded later took effect before this one: kept for the record, never in force
    superseded: bool = False

    def status_event(self) -> LicenseStatusEvent:
        """The event as the status rule reads it."""
        return LicenseStatusEvent(self.status, unix_time(self.effective_at), self.reason,
                                  self.valid_to)


@dataclass(frozen=True)
class StatusChange:
    """What :func:`change_status` did."""

    license: License
    event: LicenseEvent
    previous_status: str


_LICENSE_COLUMNS = (
    "id, license_no, enterprise_id, valid_from, valid_to, status, status_reason, "
    "status_effective_at"
)
_EVENT_COLUMNS = (
    "id, license_id, action, status, reason, effective_at, valid_to, recorded_at, actor"
)


def _license(db: Database, row: dict[str, Any]) -> License:
    categories = tuple(
        code for (code,) in db.execute(
            "SELECT lc.category_code FROM license_categories lc "
            "JOIN categories c ON c.code = lc.category_code "
            "WHERE lc.license_id = ? ORDER BY c.label_code", [row["id"]]
        ).fetchall()
    )
    return _license_with(row, categories)


def _license_with(row: dict[str, Any], categories: tuple[str, ...]) -> License:
    return License(
        id=row["id"], license_no=row["license_no"], enterprise_id=row["enterprise_id"],
        categories=categories, valid_from=date.fromisoformat(row["valid_from"]),
        valid_to=date.fromisoformat(row["valid_to"]), status=row["status"],
        status_reason=row["status_reason"],
        status_effective_at=stored_time(row["status_effective_at"]),
    )


def _events(found: list[dict[str, Any]]) -> list[LicenseEvent]:
    """Events of one license, in effective order, each marked superseded when a change recorded
    after it (a higher row id) takes effect strictly before it. Only an urgent suspension or
    revocation is ever dated before an event already recorded (:func:`change_status`)."""
    earliest_later: str | None = None
    superseded: set[int] = set()
    for row in sorted(found, key=lambda row: row["id"], reverse=True):
        if (row["action"] != "issue" and earliest_later is not None
                and earliest_later < row["effective_at"]):
            superseded.add(row["id"])
        if earliest_later is None or row["effective_at"] < earliest_later:
            earliest_later = row["effective_at"]
    return [LicenseEvent(
        license_id=row["license_id"], status=row["status"], reason=row["reason"],
        effective_at=stored_time(row["effective_at"]),
        recorded_at=stored_time(row["recorded_at"]), actor=row["actor"], action=row["action"],
        valid_to=date.fromisoformat(row["valid_to"]) if row["valid_to"] else None,
        superseded=row["id"] in superseded,
    ) for row in found]


def get_license(db: Database, license_id: int) -> License:
    found = rows(db, f"SELECT {_LICENSE_COLUMNS} FROM licenses WHERE id = ?", [license_id])
    if not found:
        raise NotFound(f"no license with id {license_id}")
    return _license(db, found[0])


def licenses_of(db: Database, enterprise_id: int) -> tuple[License, ...]:
    """An enterprise's licenses, the most recently started first."""
    return tuple(
        _license(db, row) for row in rows(
            db,
            f"SELECT {_LICENSE_COLUMNS} FROM licenses WHERE enterprise_id = ? "
            "ORDER BY valid_from DESC, id DESC",
            [enterprise_id],
        )
    )


def current_licenses(db: Database) -> dict[int, License]:
    """Every enterprise's current license (the one that started last), read in two queries."""
    categories: dict[int, list[str]] = {}
    for row in rows(db, "SELECT lc.license_id, lc.category_code FROM license_categories lc "
                        "JOIN categories c ON c.code = lc.category_code ORDER BY c.label_code"):
        categories.setdefault(row["license_id"], []).append(row["category_code"])
    current: dict[int, License] = {}
    for row in rows(db, f"SELECT {_LICENSE_COLUMNS} FROM licenses ORDER BY valid_from, id"):
        current[row["enterprise_id"]] = _license_with(row, tuple(categories.get(row["id"], ())))
    return current


def current_license(db: Database, enterprise_id: int) -> License:
    """The enterprise's license that started last."""
    found = licenses_of(db, enterprise_id)
    if not found:
        raise NotFound(f"enterprise {enterprise_id} holds no license")
    return found[0]


def find_license(db: Database, ref: str) -> License:
    """The license named by its number, or the current license of the enterprise named by its
    id or USCC."""
    text = ref.strip()
    by_number = rows(
        db, f"SELECT {_LICENSE_COLUMNS} FROM licenses WHERE license_no = ?", [text.upper()]
    )
    if by_number:
        return _license(db, by_number[0])
    enterprise = find_enterprise(db, text)
    if enterprise is None:
        raise NotFound(
            f"no license or enterprise {text!r} (give a license number, an enterprise id or a "
            "USCC; see `jdzhi registry list`)"
        )
    return current_license(db, enterprise.id)


def history(db: Database, license_id: int) -> tuple[LicenseEvent, ...]:
    """Every status event of a license, in effective order (ties: in recorded order), the
    superseded ones included."""
    return tuple(_events(rows(
        db,
        f"SELECT {_EVENT_COLUMNS} FROM license_events WHERE license_id = ? "
        "ORDER BY effective_at, id",
        [license_id],
    )))


def _counted(events: Iterable[LicenseEvent]) -> tuple[LicenseStatusEvent, ...]:
    return tuple(event.status_event() for event in events if not event.superseded)


def status_at(db: Database, license_id: int, moment: datetime) -> LicenseEvent | None:
    """The event in force at ``moment`` (see :func:`license_status_at`)."""
    counted = [event for event in history(db, license_id) if not event.superseded]
    lic = get_license(db, license_id)
    _, index = license_status_at(_counted(counted), lic.valid_from, unix_time(moment))
    return None if index is None else counted[index]


def effective_status_from(events: Sequence[LicenseEvent], valid_from: date,
                          moment: datetime) -> LicenseStatus:
    """The status people see at ``moment`` given a license's events in effective order:
    the status in force, ``expired`` when active past the window then in force, ``pending``
    before the license starts."""
    return license_status_at(_counted(events), valid_from, unix_time(moment))[0]


def _window_end(events: Iterable[LicenseEvent]) -> date | None:
    end: date | None = None
    for event in events:
        if event.valid_to is not None:
            end = event.valid_to
    return end


def effective_status(db: Database, license_id: int,
                     moment: datetime) -> LicenseStatus:
    """``active``, ``suspended``, ``revoked``, ``expired`` or ``pending`` at ``moment``."""
    lic = get_license(db, license_id)
    return effective_status_from(history(db, license_id), lic.valid_from, moment)


def is_valid_at(db: Database, license_id: int, moment: datetime) -> bool:
    """Whether the license was active and inside its window at ``moment``."""
    return effective_status(db, license_id, moment) == "active"


def event_history_by_license(db: Database) -> dict[int, list[LicenseEvent]]:
    """Every license's events in effective order, read in one query (for listings)."""
    grouped: dict[int, list[dict[str, Any]]] = {}
    for row in rows(db, f"SELECT {_EVENT_COLUMNS} FROM license_events ORDER BY effective_at, id"):
        grouped.setdefault(row["license_id"], []).append(row)
    return {license_id: _events(found) for license_id, found in grouped.items()}


def change_status(
    db: Database,
    ref: str,
    action: str,
    *,
    reason: str,
    effective_at: datetime | None = None,
    new_valid_to: date | None = None,
) -> StatusChange:
    """Suspend, revoke, reinstate or renew the license named by ``ref`` (see :func:`find_license`).

    ``effective_at`` defaults to now and may lie in the past, but not before the latest event in
    force, nor more than a year ahead. A suspension or revocation effective now or earlier
    supersedes the changes dated later (module docstring). ``renew`` needs ``new_valid_to``,
    later than the current end date.
    """
    if not _is_status_action(action):
        raise InvalidInput(f"unknown license action {action!r}")
    if (action == "renew") != (new_valid_to is not None):
        raise InvalidInput("a new end date is needed to renew a license, and only then")
    dated = dated_change(reason, effective_at, what=f"{action} a license", change=_NOUN[action])
    reason, moment, now = dated.reason, dated.effective_at, dated.recorded_at
    with transaction(db):
        lic = find_license(db, ref)
        basis = _basis(history(db, lic.id), action, moment, now)
        latest = basis[-1]
        if moment < latest.effective_at:
            raise InvalidState(
                f"license {lic.license_no} already has a change ({latest.action}) effective at "
                f"{format_time(latest.effective_at)}; a new change must take effect at or after it"
            )
        if latest.status not in TRANSITIONS[action]:
            raise InvalidState(_refusal(action, lic.license_no, latest.status))
        valid_to = _window_end(basis) or lic.valid_to
        if new_valid_to is not None:
            if new_valid_to <= valid_to:
                raise InvalidInput(
                    f"the new end date {new_valid_to} must be after the current one, "
                    f"{valid_to}"
                )
            valid_to = new_valid_to
        status = latest.status if action == "renew" else _RESULT[action]
        event = LicenseEvent(
            license_id=lic.id, status=status, reason=reason, effective_at=moment,
            recorded_at=now, actor=audit.current_actor(), action=action, valid_to=new_valid_to,
        )
        before = audit.snapshot(db, "licenses", lic.id)
        insert_event(db, event)
        db.execute(
            "UPDATE licenses SET status = ?, status_reason = ?, status_effective_at = ?, "
            "valid_to = ? WHERE id = ?",
            [status, reason, format_time(moment), valid_to.isoformat(), lic.id],
        )
        audit.record_row_change(db, action=f"license.{action}", table="licenses", key=lic.id,
                                before=before, details={"license_no": lic.license_no})
    changed = replace(lic, status=status, status_reason=reason, status_effective_at=moment,
                      valid_to=valid_to)
    return StatusChange(license=changed, event=event, previous_status=latest.status)


def _basis(events: Sequence[LicenseEvent], action: StatusAction, moment: datetime,
           now: datetime) -> list[LicenseEvent]:
    """The events a new change follows: all that count, or, for a suspension or revocation
    effective now or earlier, those in force now (the pending ones it supersedes left out;
    a license whose issue is still pending has nothing to supersede)."""
    counted = [event for event in events if not event.superseded]
    if action in ("suspend", "revoke") and moment <= now:
        in_force = [event for event in counted if event.effective_at <= now]
        pending = counted[len(in_force):]
        if in_force and all(event.action != "issue" for event in pending):
            return in_force
    return counted


_NOUN: dict[StatusAction, str] = {"suspend": "a suspension", "revoke": "a revocation",
                                  "reinstate": "a reinstatement", "renew": "a renewal"}
_RESULT: dict[StatusAction, LicenseEventStatus] = {
    "suspend": "suspended", "revoke": "revoked", "reinstate": "active"}
_DONE: dict[StatusAction, str] = {"suspend": "suspended", "revoke": "revoked",
                                  "reinstate": "reinstated", "renew": "renewed"}


def _refusal(action: StatusAction, license_no: str, status: str) -> str:
    if status == "revoked" and action != "revoke":
        return (f"license {license_no} is revoked, which is final: it cannot be "
                f"{_DONE[action]} (issue a new one with `jdzhi registry issue`)")
    if action == "reinstate":
        return f"license {license_no} is {status}, not suspended; there is nothing to reinstate"
    return f"license {license_no} is already {status}"


def insert_event(db: Database, event: LicenseEvent) -> int:
    """Store one event with its audit entry (inside the caller's transaction)."""
    cursor = db.execute(
        "INSERT INTO license_events (license_id, action, status, reason, effective_at, valid_to, "
        "recorded_at, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [event.license_id, event.action, event.status, event.reason,
         format_time(event.effective_at),
         event.valid_to.isoformat() if event.valid_to else None,
         format_time(event.recorded_at), event.actor],
    )
    event_id = int(cursor.fetchone()[0])
    audit.record_row_change(db, action=f"license_event.{event.action}", table="license_events",
                            key=event_id, before=None, details={"license_id": event.license_id})
    return event_id
