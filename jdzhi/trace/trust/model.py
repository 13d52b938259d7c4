"""What a verifier trusts: certified keys, enterprises, licenses with their status history,
categories, testing centers and their endorsements — read from the registry or from a trust bundle.

Both sources give the same :class:`Trust`, so one set of verdict rules
(:mod:`jdzhi.trace.verification.verifier`) serves the registry staff, an inspector offline with a
bundle, and the browser page. Times are Unix seconds (UTC) throughout, as in the signed formats.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Literal

from jdzhi.timeutil import format_time, from_unix
from jdzhi.trace.formats.certs import CertFields
from jdzhi.trace.trust.status import (
    KeyEndKind,
    KeyRole,
    KeyStatus,
    LicenseStatus,
    LicenseStatusEvent,
    key_status_at,
    license_status_at,
)

if TYPE_CHECKING:
    from jdzhi.trace.formats.labels import LabelFields
    from jdzhi.trace.tlog.bundle_log import BundleLog

__all__ = [
    "Endorsement",
    "EndorsementOutcome",
    "ItemRecall",
    "LicenseStatusEvent",
    "ReleaseResult",
    "SerialRanges",
    "Trust",
    "TrustedCategory",
    "TrustedEnterprise",
    "TrustedKey",
    "TrustedLab",
    "TrustedLicense",
    "revocation_time",
]

#: serials as sorted, disjoint inclusive ranges
SerialRanges = tuple[tuple[int, int], ...]

#: a testing center's finding on a batch
EndorsementOutcome = Literal["pass", "fail"]


@dataclass(frozen=True)
class TrustedKey(CertFields):
    """A public key the authority certified: what its certificate says (its window, whose it
    is), and how it ended, if it did."""

    role: KeyRole
    #: when the key stopped being usable, ``revoked`` (compromise, misuse) or ``superseded``
    ended_at: int | None = None
    end_kind: KeyEndKind | None = None
    end_reason: str = ""

    def status_at(self, moment: int) -> KeyStatus:
        return key_status_at(moment, not_before=self.not_before, not_after=self.not_after,
                             ended_at=self.ended_at, end_kind=self.end_kind)


@dataclass(frozen=True)
class TrustedEnterprise:
    id: int
    name: str
    short_name: str
    uscc: str


@dataclass(frozen=True)
class TrustedLicense:
    id: int
    enterprise_id: int
    license_no: str
    valid_from: date
    categories: frozenset[int]  # category label codes
    events: tuple[LicenseStatusEvent, ...]  # in effective order

    def status_at(self, moment: int) -> tuple[LicenseStatus, LicenseStatusEvent | None]:
        """The status at ``moment`` and the event in force (:func:`license_status_at`)."""
        status, index = license_status_at(self.events, self.valid_from, moment)
        return status, None if index is None else self.events[index]


@dataclass(frozen=True)
class TrustedCategory:
    label_code: int
    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class TrustedLab:
    """A testing center whose endorsements count: its id (the one its key certificate and its
    endorsements name), its name and its accreditation (e.g. a CNAS number)."""

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
    outcome: EndorsementOutcome
    results: tuple[ReleaseResult, ...]
    optional: Mapping[str, int]
    standard: str
    report_no: str
    tested_at: int
    signed_at: int
    message: bytes = field(repr=False, default=b"")

    def covers(self, serial: int) -> bool:
        return any(low <= serial <= high for low, high in self.serial_ranges)


def revocation_time(key: TrustedKey, lic: TrustedLicense | None) -> int | None:
    """When a licensee key's revocation, or its license's, first took effect, if ever."""
    times = [event.effective_at for event in lic.events if event.status == "revoked"] \
        if lic else []
    if key.end_kind == "revoked" and key.ended_at is not None:
        times.append(key.ended_at)
    return min(times, default=None)


@dataclass(frozen=True)
class ItemRecall:
    """Items the registry recalled (a cloned serial, a failed batch, stolen labels): whatever
    key signed them, and whenever, they are ``recalled`` from ``effective_at`` on."""

    recall_id: int
    enterprise_id: int
    #: sorted, disjoint, inclusive; a batch recall's are the batch's serials the registry holds
    serial_ranges: tuple[tuple[int, int], ...]
    reason: str
    effective_at: int
    batch: str | None = None

    @cached_property
    def _lows(self) -> list[int]:
        return [low for low, _ in self.serial_ranges]

    def said(self) -> str:
        """The reason a verifier gives."""
        what = f"batch {self.batch}" if self.batch is not None else "this serial"
        effective = format_time(from_unix(self.effective_at))
        return f"recalled: {self.reason} ({what}, effective {effective})"

    def covers(self, serial: int, batch: str | None = None) -> bool:
        """Whether it recalls this serial (or, for a record, which carries it, this batch)."""
        if batch is not None and batch == self.batch:
            return True
        at = bisect_right(self._lows, serial) - 1
        return at >= 0 and serial <= self.serial_ranges[at][1]


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
    recalls: tuple[ItemRecall, ...] = ()
    #: keys the source holds but does not trust (a certificate that fails), with why
    refused_keys: Mapping[int, str] = field(default_factory=dict)
    #: the bundle's checkpoint of the registry's log (None: the registry, or an unlogged bundle)
    log: BundleLog | None = None
    #: for each licensee key revoked (itself or by its license), the serials of its records that
    #: the registry logged in time, before the revocation took effect; None: not known
    logged: Mapping[int, SerialRanges] | None = None

    def revoked_from(self, key: TrustedKey) -> int | None:
        lic = self.licenses.get(key.license_id) if key.license_id is not None else None
        return revocation_time(key, lic)

    def unlogged_reason(self, key: TrustedKey, fields: LabelFields) -> str | None:
        """Why a record the other rules find genuine is revoked after all: its key (or license)
        is revoked and the registry did not log it before that took effect, so it may be
        back-dated with a stolen key. None when it was logged in time, or nothing is known."""
        ranges = None if self.logged is None else self.logged.get(key.key_id)
        if ranges is None or any(low <= fields.serial <= high for low, high in ranges):
            return None
        since = format_time(from_unix(self.revoked_from(key) or fields.signed_at))
        return (f"signed {format_time(from_unix(fields.signed_at))}, before the revocation of "
                f"key {key.key_id} (effective {since}), but not logged in time: the registry did "
                "not log this record before then, so it may be back-dated with a stolen key")

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

    @cached_property
    def _recalls_by_enterprise(self) -> dict[int, list[ItemRecall]]:
        by_enterprise: dict[int, list[ItemRecall]] = {}
        for recall in sorted(self.recalls, key=lambda r: (r.effective_at, r.recall_id)):
            by_enterprise.setdefault(recall.enterprise_id, []).append(recall)
        return by_enterprise

    def recall_of(self, enterprise_id: int, serial: int, moment: int,
                  batch: str | None = None) -> ItemRecall | None:
        """The earliest recall in effect at ``moment`` of this enterprise's item, if any."""
        for recall in self._recalls_by_enterprise.get(enterprise_id, ()):
            if recall.effective_at <= moment and recall.covers(serial, batch):
                return recall
        return None

    def stale_at(self, moment: int) -> bool:
        return self.expires_at is not None and moment > self.expires_at

