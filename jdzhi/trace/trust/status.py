"""The status of a license and of a certified key at a moment: one rule each, pure; and the
rule a status change's reason and effective time follow (:func:`dated_change`).

Signing, registry listings, and verification against the registry or a trust bundle all ask
these two functions; the phone page's ``statusAt`` and ``keyStatusAt``
(``trace/page/static/verify.js``) are held to them by a test over generated cases
(tests/test_status_rules.py). Times are Unix seconds (UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, TypeGuard, get_args

from jdzhi.errors import InvalidInput
from jdzhi.timeutil import cst_date, format_time, utc_now

__all__ = [
    "DatedChange",
    "KeyEndKind",
    "KeyRole",
    "KeyStatus",
    "LicenseEventStatus",
    "LicenseStatus",
    "LicenseStatusEvent",
    "dated_change",
    "is_key_end_kind",
    "is_key_role",
    "is_license_event_status",
    "key_status_at",
    "license_status_at",
]

#: what a license event sets (stored); ``expired`` and ``pending`` are only ever computed
LicenseEventStatus = Literal["active", "suspended", "revoked"]
#: what people see at a moment
LicenseStatus = Literal["active", "suspended", "revoked", "expired", "pending"]
KeyRole = Literal["licensee", "lab"]
#: how a key ended: revoked (compromise, misuse) or superseded (replaced by a rotation)
KeyEndKind = Literal["revoked", "superseded"]
KeyStatus = Literal["pending", "active", "expired", "revoked", "superseded"]


def is_license_event_status(text: str) -> TypeGuard[LicenseEventStatus]:
    return text in get_args(LicenseEventStatus)


def is_key_role(text: str) -> TypeGuard[KeyRole]:
    return text in get_args(KeyRole)


def is_key_end_kind(text: str) -> TypeGuard[KeyEndKind]:
    return text in get_args(KeyEndKind)


@dataclass(frozen=True)
class LicenseStatusEvent:
    """One event of a license's history as the status rule reads it."""

    status: LicenseEventStatus
    effective_at: int
    reason: str
    #: the license's end date from this event on (issue and renewal events set it)
    valid_to: date | None = None


def license_status_at(events: Sequence[LicenseStatusEvent], valid_from: date, moment: int
                      ) -> tuple[LicenseStatus, int | None]:
    """The status at ``moment`` and the index of the event in force then (None before the
    first), given the events that count, in effective order.

    The status of the latest event whose ``effective_at <= moment``; an active license is
    ``expired`` when the moment's date in China Standard Time is past the end date in force
    (set by the latest issue or renewal in force), and ``pending`` before ``valid_from`` or
    before its first event.
    """
    latest: int | None = None
    valid_to: date | None = None
    for index, event in enumerate(events):
        if event.effective_at > moment:
            continue
        latest = index
        if event.valid_to is not None:
            valid_to = event.valid_to
    if latest is None:
        return "pending", None
    status = events[latest].status
    if status != "active":
        return status, latest
    day = cst_date(moment)
    if day < valid_from:
        return "pending", latest
    if valid_to is not None and day > valid_to:
        return "expired", latest
    return "active", latest


def key_status_at(moment: int, *, not_before: int, not_after: int, ended_at: int | None,
                  end_kind: KeyEndKind | None) -> KeyStatus:
    """A certified key's status at ``moment``: ``pending`` before its window, then its end
    (``revoked`` / ``superseded``) from the end's effective time on, ``expired`` after its
    window, else ``active``."""
    if moment < not_before:
        return "pending"
    if ended_at is not None and end_kind is not None and moment >= ended_at:
        return end_kind
    if moment > not_after:
        return "expired"
    return "active"


#: how far ahead a revocation, suspension or other status change may be dated
LONGEST_NOTICE = timedelta(days=366)


@dataclass(frozen=True)
class DatedChange:
    """A status change's reason and times, checked by :func:`dated_change`."""

    #: the reason on one line (runs of white space made one space)
    reason: str
    effective_at: datetime
    #: now, when the change is recorded
    recorded_at: datetime


def dated_change(reason: str, effective_at: datetime | None, *, what: str, change: str,
                 max_reason_chars: int | None = None) -> DatedChange:
    """The one rule every status change (a license's, a key's revocation, a recall) follows
    before it is stored: a reason is needed (``what`` says for what, e.g. "revoke a key"), at
    most ``max_reason_chars`` long when given; the change takes effect at ``effective_at``,
    default now, which may lie in the past but not more than a year ahead (``change`` names it,
    e.g. "a revocation"): a far-off date is a typing mistake, and a pending change must not block
    an urgent one for long."""
    tidy = " ".join(reason.split())
    if not tidy:
        raise InvalidInput(f"a reason is needed to {what}")
    if max_reason_chars is not None and len(tidy) > max_reason_chars:
        raise InvalidInput(f"the reason is longer than {max_reason_chars} characters")
    now = utc_now()
    moment = effective_at or now
    if moment > now + LONGEST_NOTICE:
        raise InvalidInput(f"{change} cannot take effect more than a year from now "
                           f"({format_time(moment)} given)")
    return DatedChange(tidy, moment, now)
