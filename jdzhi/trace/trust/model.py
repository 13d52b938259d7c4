"""What a verifier trusts: certified keys, enterprises, licenses with their status history,
categories, testing centers and their endorsements — read from the registry or from a trust bundle.

Both sources give the same :class:`Trust`, so one set of verdict rules (:mod:`jdzhi.trace.verification.verifier`)
serves the registry staff, an inspector offline with a bundle, and the browser page. Times are
Unix seconds (UTC) throughout, as in the signed formats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property

from jdzhi.timeutil import CHINA_STANDARD_TIME

#: a license status that no event has set yet (before its first event) — never stored
PENDING = "pending"


@dataclass(frozen=True)
class TrustedKey:
    """A public key the authority certified, with its window and how it ended, if it did."""

    key_id: int
    public_key: bytes
    role: str  # "licensee" or "lab"
    not_before: int
    not_after: int
    enterprise_id: int | None = None
    license_id: int | None = None
    lab_id: int | None = None
    #: when the key stopped being usable, ``revoked`` (compromise, misuse) or ``superseded``
    ended_at: int | None = None
    end_kind: str | None = None
    end_reason: str = ""


@dataclass(frozen=True)
class TrustedEnterprise:
    id: int
    name: str
    short_name: str
    uscc: str


@dataclass(frozen=True)
class LicenseStatusEvent:
    status: str  # active, suspended, revoked, expired
    effective_at: int
    reason: str
    #: the license's end date from this event on (issue and renewal events set it)
    valid_to: date | None = None


@dataclass(frozen=True)
class TrustedLicense:
    id: int
    enterprise_id: int
    license_no: str
    valid_from: date
    categories: frozenset[int]  # category label codes
    events: tuple[LicenseStatusEvent, ...]  # in effective order

    def status_at(self, moment: int) -> tuple[str, LicenseStatusEvent | None]:
        """``active``, ``suspended``, ``revoked``, ``expired`` or ``pending`` at ``moment``.

        The status of the latest event in force; an active license is ``expired`` when the
        moment's date (China Standard Time) is past the end date in force, ``pending`` before
        ``valid_from`` or before its first event.
        """
        in_force = [event for event in self.events if event.effective_at <= moment]
        if not in_force:
            return PENDING, None
        latest = in_force[-1]
        if latest.status != "active":
            return latest.status, latest
        day = cst_date(moment)
        valid_to = None
        for event in in_force:
            if event.valid_to is not None:
                valid_to = event.valid_to
        if day < self.valid_from:
            return PENDING, latest
        if valid_to is not None and day > valid_to:
            return "expired", latest
        return "active", latest


@dataclass(frozen=True)
class TrustedCategory:
    label_code: int
    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class TrustedLab:
    id: int
    name: str
    accreditation: str


@dataclass(frozen=True)
class ReleaseResult:
    """One lead/cadmium release result of a ware class, in thousandths of the unit."""

    ware_class: str
    unit: str  # "mg/dm2" (flat ware) or "mg/L" (hollow ware)
    pb: int
    cd: int
    pb_limit: int
    cd_limit: int

    @property
    def passed(self) -> bool:
        return self.pb <= self.pb_limit and self.cd <= self.cd_limit


@dataclass(frozen=True)
class Endorsement:
    """A testing center's countersignature of a batch (its lab signature already checked)."""

    lab_id: int
    key_id: int
    enterprise_id: int
    batch: str
    serial_ranges: tuple[tuple[int, int], ...]
    outcome: str  # "pass" or "fail"
    results: tuple[ReleaseResult, ...]
    optional: Mapping[str, int]
    standard: str
    report_no: str
    tested_at: int
    signed_at: int
    message: bytes = field(repr=False, default=b"")

    def covers(self, serial: int) -> bool:
        return any(low <= serial <= high for low, high in self.serial_ranges)


@dataclass(frozen=True)
class Trust:
    """Everything verification needs; ``source`` says where it came from."""

    source: str
    authority_public_key: bytes
    bases: tuple[str, ...]
    keys: Mapping[int, TrustedKey]
    enterprises: Mapping[int, TrustedEnterprise]
    licenses: Mapping[int, TrustedLicense]
    categories: Mapping[int, TrustedCategory]
    labs: Mapping[int, TrustedLab]
    endorsements: tuple[Endorsement, ...]
    issued_at: int
    expires_at: int | None = None
    warnings: tuple[str, ...] = ()

    @cached_property
    def _endorsements_by_enterprise(self) -> dict[int, list[Endorsement]]:
        by_enterprise: dict[int, list[Endorsement]] = {}
        for endorsement in self.endorsements:
            by_enterprise.setdefault(endorsement.enterprise_id, []).append(endorsement)
        return by_enterprise

    def endorsement_for(self, enterprise_id: int, serial: int) -> Endorsement | None:
        """The latest endorsement whose serial ranges hold this serial of this enterprise
        (pieces signed into the batch after the test are not covered)."""
        found: Endorsement | None = None
        for endorsement in self._endorsements_by_enterprise.get(enterprise_id, ()):
            if endorsement.covers(serial) and (
                found is None or endorsement.signed_at >= found.signed_at
            ):
                found = endorsement
        return found

    def stale_at(self, moment: int) -> bool:
        return self.expires_at is not None and moment > self.expires_at


def cst_date(moment: int) -> date:
    """The calendar date of a Unix time in China Standard Time."""
    return datetime.fromtimestamp(moment, CHINA_STANDARD_TIME).date()
