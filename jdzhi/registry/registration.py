"""One row of the registry's exchange format (:mod:`jdzhi.registry.exchange`) checked: an
enterprise and its license as :func:`registration_from_fields` validates them, before they are
stored (:mod:`jdzhi.registry.entries`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from jdzhi.errors import InvalidInput
from jdzhi.inputs import check_text
from jdzhi.registry.categories import Category, find_category
from jdzhi.registry.enterprises import EnterpriseDetails
from jdzhi.registry.schema import DISTRICTS
from jdzhi.registry.uscc import validate as validate_uscc
from jdzhi.timeutil import CHINA_STANDARD_TIME, parse_date, parse_time

__all__ = [
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "SETTABLE_STATUSES",
    "Registration",
    "district_code",
    "enterprise_details",
    "record_of_enterprise",
    "registration_from_fields",
    "start_of",
    "text_field",
]

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

_LICENSE_NO = re.compile(r"[A-Z][A-Z0-9-]{2,39}")
#: categories are separated by ';' or ',' (also the full-width forms a Chinese keyboard types)
_SEPARATORS = re.compile("[;,\uff0c\uff1b]")

@dataclass(frozen=True)
class Registration:
    """One validated row: an enterprise and its license, ready to store."""

    enterprise: EnterpriseDetails
    license_no: str
    categories: tuple[str, ...]
    valid_from: date
    valid_to: date
    status: str = "active"
    status_reason: str = ""
    status_effective_at: datetime | None = None
    warnings: tuple[str, ...] = ()


def registration_from_fields(
    fields: Mapping[str, Any], categories: Sequence[Category]
) -> Registration:
    """Validate one row of the exchange format (raises :class:`InvalidInput` with the reason)."""
    unknown = sorted(set(fields) - set(COLUMNS))
    if unknown:
        raise InvalidInput(
            f"unknown field {', '.join(map(repr, unknown))} (fields: {', '.join(COLUMNS)})"
        )
    text = {name: text_field(fields.get(name), name) for name in COLUMNS if name != "categories"}
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
        enterprise=EnterpriseDetails(uscc=checked.code, **enterprise_details(text)),
        license_no=license_no, categories=_categories(fields.get("categories"), categories),
        valid_from=valid_from, valid_to=valid_to, status=status,
        status_reason=text["status_reason"], status_effective_at=status_effective_at,
        warnings=tuple(warnings),
    )


def enterprise_details(text: Mapping[str, str]) -> dict[str, Any]:
    """The validated enterprise columns other than the USCC."""
    return {
        "name": _name(text["name"], "name"), "name_en": text["name_en"] or None,
        "short_name": text["short_name"] or _short_name(text["name"]),
        "district_code": district_code(text["district_code"]), "address": text["address"],
        "contact": text["contact"],
    }


def start_of(day: date) -> datetime:
    """The first second of a calendar day in Jingdezhen."""
    return datetime.combine(day, datetime.min.time(), tzinfo=CHINA_STANDARD_TIME)


def text_field(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise InvalidInput(f"{name} must be text, not {type(value).__name__}")
    return check_text(str(value), name, max_length=200)


def _name(value: str, what: str) -> str:
    if len(value) < 2:
        raise InvalidInput(f"{what} {value!r} is too short")
    return value


def _short_name(name: str) -> str:
    short = re.sub(r"^(江西省)?景德镇(市)?", "", name)
    short = re.sub(r"(股份)?有限(责任)?公司$", "", short)
    return short or name


def district_code(value: str) -> str:
    if value in DISTRICTS:
        return value
    for code, name in DISTRICTS.items():
        if value in (name, name[:-1]):
            return code
    known = ", ".join(f"{code} {name}" for code, name in DISTRICTS.items())
    raise InvalidInput(f"district {value!r} is not one of Jingdezhen's ({known})")


def _categories(value: Any, categories: Sequence[Category]) -> tuple[str, ...]:
    if isinstance(value, list):
        names = [text_field(item, "categories") for item in value]
    else:
        names = [part.strip()
                 for part in re.split(_SEPARATORS, text_field(value, "categories"))]
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


def record_of_enterprise(enterprise: EnterpriseDetails) -> dict[str, Any]:
    """The enterprise columns of the exchange format."""
    return {"uscc": enterprise.uscc, "name": enterprise.name,
            "name_en": enterprise.name_en or "", "short_name": enterprise.short_name,
            "district_code": enterprise.district_code, "address": enterprise.address,
            "contact": enterprise.contact}
