"""Enterprises licensed to use the mark, and how people refer to them.

An enterprise is named on the command line by its numeric id, its USCC (18 characters) or the
number of one of its licenses; :func:`get_enterprise` accepts all three.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jdzhi.errors import NotFound
from jdzhi.registry.db import rows
from jdzhi.registry.schema import DISTRICTS
from jdzhi.registry.uscc import normalize

if TYPE_CHECKING:
    from jdzhi.registry.db import Database

__all__ = [
    "Enterprise",
    "EnterpriseDetails",
    "enterprise_by_id",
    "find_enterprise",
    "get_enterprise",
    "list_enterprises",
]

_COLUMNS = "id, uscc, name, name_en, short_name, district_code, address, contact"


@dataclass(frozen=True)
class EnterpriseDetails:
    """What the registry records of an enterprise, as a registration gives it."""

    uscc: str
    name: str
    name_en: str | None
    short_name: str
    district_code: str
    address: str
    contact: str

    @property
    def district_name(self) -> str:
        return DISTRICTS.get(self.district_code, self.district_code)


@dataclass(frozen=True)
class Enterprise(EnterpriseDetails):
    """A registered enterprise: its details and the registry's id for it."""

    id: int


def get_enterprise(db: Database, ref: str) -> Enterprise:
    """The enterprise whose id, USCC or license number is ``ref``."""
    found = find_enterprise(db, ref)
    if found is None:
        raise NotFound(
            f"no enterprise with id, USCC or license number {ref.strip()!r} "
            "(see `jdzhi registry list`)"
        )
    return found


def find_enterprise(db: Database, ref: str) -> Enterprise | None:
    text = ref.strip()
    if not text:
        return None
    found: list[dict[str, Any]] = []
    if len(normalize(text)) == 18:
        found = rows(db, f"SELECT {_COLUMNS} FROM enterprises WHERE uscc = ?", [normalize(text)])
    if not found and text.isascii() and text.isdigit() and len(text) < 18:
        found = rows(db, f"SELECT {_COLUMNS} FROM enterprises WHERE id = ?", [int(text)])
    if not found:
        found = rows(
            db,
            f"SELECT {', '.join('e.' + c.strip() for c in _COLUMNS.split(','))} "
            "FROM enterprises e JOIN licenses l ON l.enterprise_id = e.id "
            "WHERE l.license_no = ?",
            [text.upper()],
        )
    return Enterprise(**found[0]) if found else None


def enterprise_by_id(db: Database, enterprise_id: int) -> Enterprise:
    found = rows(db, f"SELECT {_COLUMNS} FROM enterprises WHERE id = ?", [enterprise_id])
    if not found:
        raise NotFound(f"no enterprise with id {enterprise_id}")
    return Enterprise(**found[0])


def list_enterprises(db: Database) -> tuple[Enterprise, ...]:
    return tuple(
        Enterprise(**row) for row in rows(db, f"SELECT {_COLUMNS} FROM enterprises ORDER BY id")
    )
