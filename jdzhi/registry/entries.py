"""Registry entries: an enterprise with its current license, as people add, list and exchange them.

The exchange format (``registry import`` / ``registry export`` / ``registry sample``) is one row
per enterprise and license, as CSV (UTF-8, header row, ``#`` comment lines allowed before the
header, categories separated by ``;``) or as a JSON array of objects with the same fields
(``categories`` may be a list). See :data:`COLUMNS`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import Conflict, InvalidInput, InvalidState, NotFound
from jdzhi.files import replace_atomically
from jdzhi.inputs import read_text_file
from jdzhi.registry import audit
from jdzhi.registry.categories import Category, find_category, list_categories
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
from jdzhi.registry.schema import DISTRICTS
from jdzhi.registry.uscc import validate as validate_uscc
from jdzhi.timeutil import (
    CHINA_STANDARD_TIME,
    format_time,
    parse_date,
    parse_time,
    utc_now,
)

if TYPE_CHECKING:
    import sqlite_utils

#: the columns of the exchange format, in file order
COLUMNS = (
    "uscc", "name", "name_en", "short_name", "district_code", "address", "contact",
    "license_no", "categories", "valid_from", "valid_to", "status", "status_reason",
    "status_effective_at",
)
REQUIRED_COLUMNS = ("uscc", "name", "district_code", "license_no", "categories", "valid_from",
                    "valid_to")
#: statuses a file may set; ``expired`` follows from ``valid_to`` and is never set by hand
SETTABLE_STATUSES = ("active", "suspended", "revoked")
MAX_IMPORT_BYTES = 32 * 1024 * 1024

_LICENSE_NO = re.compile(r"[A-Z][A-Z0-9-]{2,39}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: categories are separated by ';' or ',' (also the full-width forms a Chinese keyboard types)
_SEPARATORS = re.compile("[;,\uff0c\uff1b]")


@dataclass(frozen=True)
class Registration:
    """One validated row: an enterprise and its license, ready to store."""

    uscc: str
    name: str
    name_en: str | None
    short_name: str
    district_code: str
    address: str
    contact: str
    license_no: str
    categories: tuple[str, ...]
    valid_from: date
    valid_to: date
    status: str = "active"
    status_reason: str = ""
    status_effective_at: datetime | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegistryEntry:
    """An enterprise, its current license and that license's status at a moment."""

    enterprise: Enterprise
    license: License
    status: str

    def to_json(self) -> dict[str, Any]:
        lic = self.license
        return {
            **self.enterprise.to_json(),
            "license_id": lic.id,
            "license_no": lic.license_no,
            "status": self.status,
            "status_reason": lic.status_reason,
            "status_effective_at": format_time(lic.status_effective_at),
            "categories": list(lic.categories),
            "valid_from": lic.valid_from.isoformat(),
            "valid_to": lic.valid_to.isoformat(),
        }


@dataclass(frozen=True)
class EntryDetail:
    """An entry with its license's whole status history (``registry show``)."""

    entry: RegistryEntry
    history: tuple[LicenseEvent, ...]
    other_licenses: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            **self.entry.to_json(),
            "history": [event.to_json() for event in self.history],
            "other_licenses": list(self.other_licenses),
        }


@dataclass(frozen=True)
class ImportResult:
    path: str
    count: int
    warnings: tuple[str, ...]
    #: False when only checked (``check_only``)
    stored: bool = True


# ---------------------------------------------------------------- validating rows


def registration_from_fields(
    fields: Mapping[str, Any], categories: Sequence[Category]
) -> Registration:
    """Validate one row of the exchange format (raises :class:`InvalidInput` with the reason)."""
    unknown = sorted(set(fields) - set(COLUMNS))
    if unknown:
        raise InvalidInput(
            f"unknown field {', '.join(map(repr, unknown))} (fields: {', '.join(COLUMNS)})"
        )
    text = {name: _text(fields.get(name), name) for name in COLUMNS if name != "categories"}
    for name in REQUIRED_COLUMNS:
        if name != "categories" and not text[name]:
            raise InvalidInput(f"{name} is empty")
    checked = validate_uscc(text["uscc"])
    warnings = list(checked.warnings)
    if not checked.division_code.startswith("3602"):
        warnings.append(
            f"USCC {checked.code} was issued in division {checked.division_code}, outside "
            "Jingdezhen (3602xx)"
        )
    license_no = text["license_no"].upper()
    if not _LICENSE_NO.fullmatch(license_no):
        raise InvalidInput(
            f"license number {text['license_no']!r} must start with a letter and use only "
            "A-Z, 0-9 and '-' (3-40 characters)"
        )
    valid_from = parse_date(text["valid_from"], what="valid_from")
    valid_to = parse_date(text["valid_to"], what="valid_to")
    if valid_to < valid_from:
        raise InvalidInput(f"valid_to {valid_to} is before valid_from {valid_from}")
    status = (text["status"] or "active").lower()
    if status == "expired":
        raise InvalidInput(
            "status 'expired' is not set by hand: a license expires after its valid_to "
            "(give 'active')"
        )
    if status not in SETTABLE_STATUSES:
        raise InvalidInput(
            f"status {text['status']!r} is not one of {', '.join(SETTABLE_STATUSES)}"
        )
    status_effective_at: datetime | None = None
    if status == "active":
        if text["status_effective_at"]:
            raise InvalidInput(
                "status_effective_at applies to suspended or revoked licenses only (an active "
                "license is in force from valid_from)"
            )
    else:
        if not text["status_effective_at"]:
            raise InvalidInput(f"a {status} license needs status_effective_at")
        if not text["status_reason"]:
            raise InvalidInput(f"a {status} license needs status_reason")
        status_effective_at = parse_time(text["status_effective_at"], what="status_effective_at")
        if status_effective_at < start_of(valid_from):
            raise InvalidInput(
                f"status_effective_at {text['status_effective_at']} is before the license "
                f"starts ({valid_from})"
            )
    return Registration(
        uscc=checked.code, **_enterprise_details(text),
        license_no=license_no, categories=_categories(fields.get("categories"), categories),
        valid_from=valid_from, valid_to=valid_to, status=status,
        status_reason=text["status_reason"], status_effective_at=status_effective_at,
        warnings=tuple(warnings),
    )


def _enterprise_details(text: Mapping[str, str]) -> dict[str, Any]:
    """The validated enterprise columns other than the USCC."""
    return {
        "name": _name(text["name"], "name"), "name_en": text["name_en"] or None,
        "short_name": text["short_name"] or _short_name(text["name"]),
        "district_code": _district(text["district_code"]), "address": text["address"],
        "contact": text["contact"],
    }


def start_of(day: date) -> datetime:
    """The first second of a calendar day in Jingdezhen."""
    return datetime.combine(day, datetime.min.time(), tzinfo=CHINA_STANDARD_TIME)


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise InvalidInput(f"{name} must be text, not {type(value).__name__}")
    cleaned = str(value).strip()
    if _CONTROL.search(cleaned):
        raise InvalidInput(f"{name} contains a control character (a line break or tab?)")
    if len(cleaned) > 200:
        raise InvalidInput(f"{name} is longer than 200 characters")
    return cleaned


def _name(value: str, what: str) -> str:
    if len(value) < 2:
        raise InvalidInput(f"{what} {value!r} is too short")
    return value


def _short_name(name: str) -> str:
    short = re.sub(r"^(江西省)?景德镇(市)?", "", name)
    short = re.sub(r"(股份)?有限(责任)?公司$", "", short)
    return short or name


def _district(value: str) -> str:
    if value in DISTRICTS:
        return value
    for code, name in DISTRICTS.items():
        if value in (name, name[:-1]):
            return code
    known = ", ".join(f"{code} {name}" for code, name in DISTRICTS.items())
    raise InvalidInput(f"district {value!r} is not one of Jingdezhen's ({known})")


def _categories(value: Any, categories: Sequence[Category]) -> tuple[str, ...]:
    if isinstance(value, list):
        names = [_text(item, "categories") for item in value]
    else:
        names = [part.strip() for part in re.split(_SEPARATORS, _text(value, "categories"))]
    names = [name for name in names if name]
    if not names:
        raise InvalidInput("categories is empty (give codes or names separated by ';')")
    codes: list[str] = []
    for name in names:
        found = find_category(tuple(categories), name)
        if found is None:
            known = ", ".join(category.code for category in categories)
            raise InvalidInput(f"no product category {name!r} (known: {known})")
        if found.code not in codes:
            codes.append(found.code)
    by_label = {category.code: category.label_code for category in categories}
    return tuple(sorted(codes, key=by_label.__getitem__))


# ---------------------------------------------------------------- storing


def add_entry(db: sqlite_utils.Database, fields: Mapping[str, Any]) -> tuple[RegistryEntry,
                                                                             tuple[str, ...]]:
    """Register one enterprise with its license; returns the entry and warnings."""
    registration = registration_from_fields(fields, list_categories(db))
    with transaction(db):
        _check_not_registered(db, [registration])
        enterprise_id = _store(db, registration, source="add")
    return entry_of(db, enterprise_id), registration.warnings


def issue_license(db: sqlite_utils.Database, ref: str,
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


def update_enterprise(db: sqlite_utils.Database, ref: str,
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
        new = _enterprise_details({name: _text(value, name) for name, value in
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


def record_of_enterprise(enterprise: Enterprise) -> dict[str, Any]:
    """The enterprise columns of the exchange format."""
    return {"uscc": enterprise.uscc, "name": enterprise.name,
            "name_en": enterprise.name_en or "", "short_name": enterprise.short_name,
            "district_code": enterprise.district_code, "address": enterprise.address,
            "contact": enterprise.contact}


def import_file(db: sqlite_utils.Database, path: Path, *, check_only: bool = False,
                progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Import every row of a CSV or JSON file, or none: the first bad row stops the import with
    its row number and reason, before anything is written. ``check_only`` runs every check and
    writes nothing; ``progress(done, total)`` hears about each stored row."""
    records = read_records(path)
    categories = list_categories(db)
    registrations: list[Registration] = []
    for number, fields in enumerate(records, start=1):
        try:
            registrations.append(registration_from_fields(fields, categories))
        except InvalidInput as error:
            raise InvalidInput(f"{path}: row {number}: {error.message}; nothing imported") from None
    if not registrations:
        raise InvalidInput(f"{path} has no rows to import")
    _check_unique_within(path, registrations)
    with transaction(db):
        try:
            _check_not_registered(db, registrations)
        except Conflict as error:
            raise Conflict(f"{path}: {error.message}; nothing imported") from None
        if not check_only:
            for done, registration in enumerate(registrations, start=1):
                _store(db, registration, source=f"import {path.name}")
                if progress is not None:
                    progress(done, len(registrations))
    warnings = tuple(
        f"row {number}: {warning}"
        for number, registration in enumerate(registrations, start=1)
        for warning in registration.warnings
    )
    return ImportResult(path=str(path), count=len(registrations), warnings=warnings,
                        stored=not check_only)


def _check_unique_within(path: Path, registrations: Sequence[Registration]) -> None:
    for field in ("uscc", "license_no"):
        first_row: dict[str, int] = {}
        for number, registration in enumerate(registrations, start=1):
            value = getattr(registration, field)
            if value in first_row:
                raise Conflict(
                    f"{path}: row {number}: {field} {value} repeats row {first_row[value]}; "
                    "nothing imported"
                )
            first_row[value] = number


def _check_not_registered(db: sqlite_utils.Database,
                          registrations: Sequence[Registration]) -> None:
    usccs = {row["uscc"]: row["id"] for row in rows(db, "SELECT id, uscc FROM enterprises")}
    numbers = {row["license_no"] for row in rows(db, "SELECT license_no FROM licenses")}
    for number, registration in enumerate(registrations, start=1):
        where = f"row {number}: " if len(registrations) > 1 else ""
        if registration.uscc in usccs:
            raise Conflict(
                f"{where}an enterprise with USCC {registration.uscc} is already registered "
                f"(id {usccs[registration.uscc]})"
            )
        if registration.license_no in numbers:
            raise Conflict(f"{where}license number {registration.license_no} is already taken")


def _store(db: sqlite_utils.Database, registration: Registration, *, source: str) -> int:
    cursor = db.execute(
        "INSERT INTO enterprises (uscc, name, name_en, short_name, district_code, address, "
        "contact, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [registration.uscc, registration.name, registration.name_en, registration.short_name,
         registration.district_code, registration.address, registration.contact,
         format_time(utc_now())],
    )
    enterprise_id = int(cursor.lastrowid or 0)
    audit.record_row_change(db, action="enterprise.add", table="enterprises", key=enterprise_id,
                            before=None, details={"source": source})
    _store_license(db, enterprise_id, registration, source=source)
    return enterprise_id


def _store_license(db: sqlite_utils.Database, enterprise_id: int, registration: Registration,
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
            license_id=0, status=registration.status, reason=registration.status_reason,
            effective_at=registration.status_effective_at, recorded_at=now, actor=actor,
            action="suspend" if registration.status == "suspended" else "revoke",
        ))
    latest = events[-1]
    cursor = db.execute(
        "INSERT INTO licenses (license_no, enterprise_id, valid_from, valid_to, status, "
        "status_reason, status_effective_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [registration.license_no, enterprise_id, registration.valid_from.isoformat(),
         registration.valid_to.isoformat(), latest.status, latest.reason,
         format_time(latest.effective_at), stamp],
    )
    license_id = int(cursor.lastrowid or 0)
    audit.record_row_change(db, action="license.add", table="licenses", key=license_id,
                            before=None, details={**details,
                                                  "license_no": registration.license_no})
    for code in registration.categories:
        cursor = db.execute(
            "INSERT INTO license_categories (license_id, category_code) VALUES (?, ?)",
            [license_id, code],
        )
        audit.record_row_change(db, action="license_category.add", table="license_categories",
                                key=int(cursor.lastrowid or 0), before=None, details=details)
    for event in events:
        insert_event(db, replace(event, license_id=license_id))
    return license_id


# ---------------------------------------------------------------- reading


def entry_of(db: sqlite_utils.Database, enterprise_id: int,
             moment: datetime | None = None) -> RegistryEntry:
    lic = current_license(db, enterprise_id)
    status = effective_status_from(history(db, lic.id), lic.valid_from, moment or utc_now())
    return RegistryEntry(enterprise=enterprise_by_id(db, enterprise_id), license=lic,
                         status=status)


def list_entries(
    db: sqlite_utils.Database,
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
    district_code = _district(district.strip()) if district is not None else None
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
        if district_code is not None and enterprise.district_code != district_code:
            continue
        if category_code is not None and category_code not in lic.categories:
            continue
        entries.append(RegistryEntry(enterprise=enterprise, license=lic, status=shown))
    return tuple(entries)


def show_entry(db: sqlite_utils.Database, ref: str,
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


def audit_registry(db: sqlite_utils.Database) -> audit.AuditReport:
    """SQLite's own integrity checks, the audit log's hash chain, and every audited row against
    the last digest the log holds for it."""
    from jdzhi.registry.db import integrity_check

    report = audit.verify(db)
    return audit.AuditReport(entries=report.entries,
                             problems=(*integrity_check(db), *report.problems),
                             head_hash=report.head_hash)


# ---------------------------------------------------------------- files


def read_records(path: Path) -> list[dict[str, Any]]:
    """The rows of a CSV or JSON file in the exchange format (not yet validated)."""
    text = read_text_file(path, max_bytes=MAX_IMPORT_BYTES)
    if _format_of(path, text) == "json":
        return _json_records(path, text)
    return _csv_records(path, text)


def _format_of(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".json"):
        return suffix[1:]
    return "json" if text.lstrip().startswith(("[", "{")) else "csv"


def _json_records(path: Path, text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"{path} is not valid JSON (line {error.lineno}: {error.msg})") from None
    if not isinstance(data, list):
        raise InvalidInput(f"{path} must hold a JSON array of objects, one per enterprise")
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise InvalidInput(f"{path}: row {number} is not a JSON object; nothing imported")
    return data


def _csv_records(path: Path, text: str) -> list[dict[str, Any]]:
    lines = text.splitlines(keepends=True)
    skipped = 0
    while skipped < len(lines) and (not lines[skipped].strip()
                                    or lines[skipped].lstrip().startswith("#")):
        skipped += 1
    reader = csv.reader(io.StringIO("".join(lines[skipped:])))
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidInput(f"{path} is empty (expected a header row: {','.join(COLUMNS)})")
        header = [name.strip() for name in header]
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if missing:
            raise InvalidInput(f"{path} lacks the column(s) {', '.join(missing)}")
        duplicated = sorted({name for name in header if header.count(name) > 1})
        if duplicated:
            raise InvalidInput(f"{path} repeats the column(s) {', '.join(duplicated)}")
        records: list[dict[str, Any]] = []
        for number, values in enumerate(reader, start=1):
            if not any(value.strip() for value in values):
                raise InvalidInput(f"{path}: row {number} is empty; nothing imported")
            if len(values) != len(header):
                raise InvalidInput(
                    f"{path}: row {number} (line {reader.line_num + skipped}) has "
                    f"{len(values)} fields, the header {len(header)}; nothing imported"
                )
            records.append(dict(zip(header, values, strict=True)))
    except csv.Error as error:
        raise InvalidInput(f"{path} is not valid CSV (line {reader.line_num + skipped}: "
                           f"{error})") from None
    return records


def export_file(db: sqlite_utils.Database, path: Path, *, overwrite: bool = False) -> int:
    """Write every enterprise with its current license in the format :func:`import_file`
    reads (CSV or JSON by the file's suffix); returns the number of rows."""
    check_output_path(path, overwrite=overwrite, what="export")
    records = [record_of(entry) for entry in list_entries(db)]
    write_records(path, records)
    return len(records)


def check_output_path(path: Path, *, overwrite: bool, what: str) -> None:
    """Refuse an output path before any work: wrong suffix, a folder, a missing parent folder,
    or an existing file unless ``overwrite``."""
    if path.suffix.lower() not in (".csv", ".json"):
        raise InvalidInput(f"{path}: the {what} file must end in .csv or .json")
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder; give a file name")
    if path.exists() and not overwrite:
        raise Conflict(f"{path} exists; choose another name or pass --force to replace it")
    if not path.parent.is_dir():
        raise InvalidInput(f"the folder {path.parent} does not exist")


def record_of(entry: RegistryEntry) -> dict[str, Any]:
    """An entry as one row of the exchange format."""
    lic = entry.license
    active = lic.status == "active"
    return {
        **record_of_enterprise(entry.enterprise), "license_no": lic.license_no,
        "categories": list(lic.categories), "valid_from": lic.valid_from.isoformat(),
        "valid_to": lic.valid_to.isoformat(), "status": lic.status,
        "status_reason": lic.status_reason,
        "status_effective_at": "" if active else format_time(lic.status_effective_at),
    }


def write_records(path: Path, records: Sequence[Mapping[str, Any]], *,
                  comment_lines: Sequence[str] = ()) -> None:
    """Write rows atomically (a temporary file renamed into place)."""
    if path.suffix.lower() == ".json":
        body = json.dumps(list(records), ensure_ascii=False, indent=2) + "\n"
    else:
        buffer = io.StringIO()
        for line in comment_lines:
            buffer.write(f"# {line}\n")
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow({**record, "categories": ";".join(record["categories"])})
        body = buffer.getvalue()
    replace_atomically(path, body.encode("utf-8"))
