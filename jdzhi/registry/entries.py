"""Registry entries: an enterprise with its current license, as people add, list and change them.

The fields of an entry are those of the exchange format (:mod:`jdzhi.registry.exchange`, the
import and export files): see :data:`COLUMNS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jdzhi.errors import Conflict, InvalidInput, InvalidState, NotFound
from jdzhi.registry import audit
from jdzhi.registry.categories import find_category, list_categories
from jdzhi.registry.db import rows, transaction
from jdzhi.registry.enterprises import (
    Enterprise,
    enterprise_by_id,
    get_enterprise,
    list_enterprises,
)
from jdzhi.registry.licenses import (
    License,
    LicenseEvent,
    current_license,
    current_licenses,
    effective_status_from,
    event_history_by_license,
    find_license,
    history,
    insert_event,
    licenses_of,
)
from jdzhi.registry.registration import (
    COLUMNS,
    REQUIRED_COLUMNS,
    Registration,
    district_code,
    enterprise_details,
    record_of_enterprise,
    registration_from_fields,
    start_of,
    text_field,
)
from jdzhi.timeutil import format_time, utc_now

if TYPE_CHECKING:
    from jdzhi.registry.db import Database

__all__ = [
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "UPDATABLE_FIELDS",
    "EntryDetail",
    "RegistryEntry",
    "add_entry",
    "audit_registry",
    "check_not_registered",
    "entry_of",
    "issue_license",
    "list_entries",
    "registration_from_fields",
    "show_entry",
    "store_registration",
    "update_enterprise",
]


@dataclass(frozen=True)
class RegistryEntry:
    """An enterprise, its current license and that license's status at a moment."""

    enterprise: Enterprise
    license: License
    status: str


@dataclass(frozen=True)
class EntryDetail:
    """An entry with its license's whole status history (``registry show``)."""

    entry: RegistryEntry
    history: tuple[LicenseEvent, ...]
    other_licenses: tuple[str, ...]


# ---------------------------------------------------------------- validating rows


# ---------------------------------------------------------------- storing


def add_entry(db: Database, fields: Mapping[str, Any]) -> tuple[RegistryEntry,
                                                                             tuple[str, ...]]:
    """Register one enterprise with its license; returns the entry and warnings."""
    registration = registration_from_fields(fields, list_categories(db))
    with transaction(db):
        check_not_registered(db, [registration])
        enterprise_id = store_registration(db, registration, source="add")
    return entry_of(db, enterprise_id), registration.warnings


def issue_license(db: Database, ref: str,
                  fields: Mapping[str, Any]) -> RegistryEntry:
    """Issue a new license to a registered enterprise (e.g. after a revocation or a lapse).

    ``fields`` holds ``license_no``, ``categories``, ``valid_from`` and ``valid_to``. Refused
    while another license of the enterprise that is not revoked overlaps the new window: renew
    that one instead.
    """
    with transaction(db):
        enterprise = get_enterprise(db, ref)
        registration = registration_from_fields(
            {**record_of_enterprise(enterprise), **fields}, list_categories(db)
        )
        numbers = {row["license_no"] for row in rows(db, "SELECT license_no FROM licenses")}
        if registration.license_no in numbers:
            raise Conflict(f"license number {registration.license_no} is already taken")
        for other in licenses_of(db, enterprise.id):
            if (other.status != "revoked" and other.valid_from <= registration.valid_to
                    and registration.valid_from <= other.valid_to):
                raise InvalidState(
                    f"{enterprise.name} already holds license {other.license_no} "
                    f"({other.valid_from} to {other.valid_to}, {other.status}); renew it, or "
                    "revoke it first"
                )
        _store_license(db, enterprise.id, registration, source="issue")
    return entry_of(db, enterprise.id)


#: enterprise fields people may change; the USCC is the enterprise's identity and stays
UPDATABLE_FIELDS = ("name", "name_en", "short_name", "district_code", "address", "contact")


def update_enterprise(db: Database, ref: str,
                      changes: Mapping[str, str | None]) -> tuple[Enterprise, tuple[str, ...]]:
    """Change an enterprise's details; returns it and the names of the fields that changed.
    ``None`` values are left alone; an empty ``name_en``, ``address`` or ``contact`` clears it."""
    wanted = {name: value for name, value in changes.items() if value is not None}
    unknown = sorted(set(wanted) - set(UPDATABLE_FIELDS))
    if unknown:
        raise InvalidInput(f"cannot change {', '.join(unknown)} (changeable: "
                           f"{', '.join(UPDATABLE_FIELDS)})")
    if not wanted:
        raise InvalidInput("nothing to change: give at least one new value")
    with transaction(db):
        enterprise = get_enterprise(db, ref)
        current = record_of_enterprise(enterprise)
        if "name" in wanted and "short_name" not in wanted:
            wanted["short_name"] = ""  # derive it again from the new name
        new = enterprise_details({name: text_field(value, name) for name, value in
                                   {**current, **wanted}.items()})
        changed = tuple(name for name in UPDATABLE_FIELDS
                        if new[name] != getattr(enterprise, name))
        if not changed:
            raise InvalidInput(f"{enterprise.name} already has these details; nothing changed")
        before = audit.snapshot(db, "enterprises", enterprise.id)
        db.execute(
            "UPDATE enterprises SET " + ", ".join(f"{name} = ?" for name in changed)
            + " WHERE id = ?", [*(new[name] for name in changed), enterprise.id],
        )
        audit.record_row_change(db, action="enterprise.update", table="enterprises",
                                key=enterprise.id, before=before,
                                details={"fields": list(changed)})
    return enterprise_by_id(db, enterprise.id), changed


def check_not_registered(db: Database, registrations: Sequence[Registration],
                         row_numbers: Sequence[int] = ()) -> None:
    """Conflict when the registry holds an enterprise's USCC or a license number already,
    naming the row (from ``row_numbers``) when there are several."""
    usccs = {row["uscc"]: row["id"] for row in rows(db, "SELECT id, uscc FROM enterprises")}
    taken = {row["license_no"] for row in rows(db, "SELECT license_no FROM licenses")}
    numbers = row_numbers or range(1, len(registrations) + 1)
    for number, registration in zip(numbers, registrations, strict=True):
        where = f"row {number}: " if len(registrations) > 1 else ""
        uscc = registration.enterprise.uscc
        if uscc in usccs:
            raise Conflict(f"{where}an enterprise with USCC {uscc} is already registered "
                           f"(id {usccs[uscc]})")
        if registration.license_no in taken:
            raise Conflict(f"{where}license number {registration.license_no} is already taken")


def store_registration(db: Database, registration: Registration, *,
                       source: str) -> int:
    """Store a checked registration: the enterprise and its license, audited."""
    ent = registration.enterprise
    cursor = db.execute(
        "INSERT INTO enterprises (uscc, name, name_en, short_name, district_code, address, "
        "contact, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [ent.uscc, ent.name, ent.name_en, ent.short_name, ent.district_code, ent.address,
         ent.contact, format_time(utc_now())],
    )
    enterprise_id = int(cursor.fetchone()[0])
    audit.record_row_change(db, action="enterprise.add", table="enterprises", key=enterprise_id,
                            before=None, details={"source": source})
    _store_license(db, enterprise_id, registration, source=source)
    return enterprise_id


def _store_license(db: Database, enterprise_id: int, registration: Registration,
                   *, source: str) -> int:
    now = utc_now()
    stamp = format_time(now)
    actor = audit.current_actor()
    details = {"source": source}
    issued_at = start_of(registration.valid_from)
    issue_reason = registration.status_reason if registration.status == "active" else ""
    events = [LicenseEvent(
        license_id=0, status="active", reason=issue_reason or "licensed",
        effective_at=issued_at, recorded_at=now, actor=actor, action="issue",
        valid_to=registration.valid_to,
    )]
    if registration.status != "active":
        assert registration.status_effective_at is not None
        events.append(LicenseEvent(
            license_id=0, status="suspended" if registration.status == "suspended" else "revoked",
            reason=registration.status_reason,
            effective_at=registration.status_effective_at, recorded_at=now, actor=actor,
            action="suspend" if registration.status == "suspended" else "revoke",
        ))
    latest = events[-1]
    cursor = db.execute(
        "INSERT INTO licenses (license_no, enterprise_id, valid_from, valid_to, status, "
        "status_reason, status_effective_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "RETURNING id",
        [registration.license_no, enterprise_id, registration.valid_from.isoformat(),
         registration.valid_to.isoformat(), latest.status, latest.reason,
         format_time(latest.effective_at), stamp],
    )
    license_id = int(cursor.fetchone()[0])
    audit.record_row_change(db, action="license.add", table="licenses", key=license_id,
                            before=None, details={**details,
                                                  "license_no": registration.license_no})
    for code in registration.categories:
        cursor = db.execute(
            "INSERT INTO license_categories (license_id, category_code) VALUES (?, ?) RETURNING id",
            [license_id, code],
        )
        audit.record_row_change(db, action="license_category.add", table="license_categories",
                                key=int(cursor.fetchone()[0]), before=None, details=details)
    for event in events:
        insert_event(db, replace(event, license_id=license_id))
    return license_id


# ---------------------------------------------------------------- reading


def entry_of(db: Database, enterprise_id: int,
             moment: datetime | None = None) -> RegistryEntry:
    lic = current_license(db, enterprise_id)
    status = effective_status_from(history(db, lic.id), lic.valid_from, moment or utc_now())
    return RegistryEntry(enterprise=enterprise_by_id(db, enterprise_id), license=lic,
                         status=status)


def list_entries(
    db: Database,
    *,
    status: str | None = None,
    district: str | None = None,
    category: str | None = None,
    moment: datetime | None = None,
) -> tuple[RegistryEntry, ...]:
    """Every enterprise with its current license and status at ``moment`` (default now),
    optionally only those with a status, in a district (code or name) or licensed for a
    category (code or name)."""
    statuses = ("active", "suspended", "revoked", "expired", "pending")
    if status is not None and status.lower() not in statuses:
        raise InvalidInput(f"status {status!r} is not one of {', '.join(statuses)}")
    wanted_district = district_code(district.strip()) if district is not None else None
    category_code: str | None = None
    if category is not None:
        found = find_category(list_categories(db), category)
        if found is None:
            raise NotFound(f"no product category {category.strip()!r} "
                           "(see `jdzhi registry categories`)")
        category_code = found.code
    at = moment or utc_now()
    events = event_history_by_license(db)
    licenses = current_licenses(db)
    entries: list[RegistryEntry] = []
    for enterprise in list_enterprises(db):
        lic = licenses.get(enterprise.id)
        if lic is None:
            continue
        shown = effective_status_from(events.get(lic.id, []), lic.valid_from, at)
        if status is not None and shown != status.lower():
            continue
        if wanted_district is not None and enterprise.district_code != wanted_district:
            continue
        if category_code is not None and category_code not in lic.categories:
            continue
        entries.append(RegistryEntry(enterprise=enterprise, license=lic, status=shown))
    return tuple(entries)


def show_entry(db: Database, ref: str,
               moment: datetime | None = None) -> EntryDetail:
    """One entry (named by enterprise id, USCC or license number) with its status history."""
    lic = find_license(db, ref)
    events = history(db, lic.id)
    entry = RegistryEntry(
        enterprise=enterprise_by_id(db, lic.enterprise_id), license=lic,
        status=effective_status_from(events, lic.valid_from, moment or utc_now()),
    )
    others = tuple(other.license_no for other in licenses_of(db, lic.enterprise_id)
                   if other.id != lic.id)
    return EntryDetail(entry=entry, history=events, other_licenses=others)


def audit_registry(db: Database) -> audit.AuditReport:
    """SQLite's own integrity checks, the audit log's hash chain, and every audited row against
    the last digest the log holds for it."""
    from jdzhi.registry.db import integrity_check

    report = audit.verify(db)
    return audit.AuditReport(entries=report.entries,
                             problems=(*integrity_check(db), *report.problems),
                             head_hash=report.head_hash)
