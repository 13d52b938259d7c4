"""Tables of the registry: product categories, enterprises, licenses and license status history.

A license's status at a moment is the status of its latest event whose ``effective_at`` is at or
before that moment (events may be recorded late with an effective time in the past); the
``status*`` columns of ``licenses`` cache the latest event for listing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jdzhi.registry.categories import seed_builtin

if TYPE_CHECKING:
    from jdzhi.registry.db import Database

__all__ = [
    "AUDITED_TABLES",
    "COMPONENT",
    "DISTRICTS",
    "LICENSE_ACTIONS",
    "LICENSE_STATUSES",
    "MIGRATIONS",
    "seed",
]

COMPONENT = "registry"

AUDITED_TABLES: dict[str, str] = {
    "categories": "code",
    "enterprises": "id",
    "licenses": "id",
    "license_categories": "id",
    "license_events": "id",
}

LICENSE_STATUSES = ("active", "suspended", "revoked", "expired")
#: what a license event does; ``valid_to`` of an event is set by ``issue`` and ``renew`` only
LICENSE_ACTIONS = ("issue", "suspend", "revoke", "reinstate", "renew")

#: Jingdezhen's county-level divisions (GB/T 2260 codes)
DISTRICTS: dict[str, str] = {
    "360202": "昌江区",
    "360203": "珠山区",
    "360222": "浮梁县",
    "360281": "乐平市",
}


_statuses = ", ".join(f"'{status}'" for status in LICENSE_STATUSES)
_actions = ", ".join(f"'{action}'" for action in LICENSE_ACTIONS)

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE categories (
            code TEXT PRIMARY KEY CHECK (code GLOB '[a-z]*' AND length(code) <= 32),
            name_zh TEXT NOT NULL UNIQUE,
            name_en TEXT NOT NULL,
            label_code INTEGER NOT NULL UNIQUE CHECK (label_code BETWEEN 1 AND 255)
        )""",
        """CREATE TABLE enterprises (
            id INTEGER PRIMARY KEY,
            uscc TEXT NOT NULL UNIQUE CHECK (length(uscc) = 18),
            name TEXT NOT NULL,
            name_en TEXT,
            short_name TEXT NOT NULL,
            district_code TEXT NOT NULL,
            address TEXT NOT NULL DEFAULT '',
            contact TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        )""",
        f"""CREATE TABLE licenses (
            id INTEGER PRIMARY KEY,
            license_no TEXT NOT NULL UNIQUE,
            enterprise_id INTEGER NOT NULL REFERENCES enterprises (id),
            valid_from TEXT NOT NULL,
            valid_to TEXT NOT NULL CHECK (valid_to >= valid_from),
            status TEXT NOT NULL CHECK (status IN ({_statuses})),
            status_reason TEXT NOT NULL DEFAULT '',
            status_effective_at TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX licenses_enterprise ON licenses (enterprise_id)",
        # a plain integer key so that the audit log can account for each row
        """CREATE TABLE license_categories (
            id INTEGER PRIMARY KEY,
            license_id INTEGER NOT NULL REFERENCES licenses (id),
            category_code TEXT NOT NULL REFERENCES categories (code),
            UNIQUE (license_id, category_code)
        )""",
        f"""CREATE TABLE license_events (
            id INTEGER PRIMARY KEY,
            license_id INTEGER NOT NULL REFERENCES licenses (id),
            action TEXT NOT NULL CHECK (action IN ({_actions})),
            status TEXT NOT NULL CHECK (status IN ({_statuses})),
            reason TEXT NOT NULL,
            effective_at TEXT NOT NULL,
            valid_to TEXT,
            recorded_at TEXT NOT NULL,
            actor TEXT NOT NULL
        )""",
        "CREATE INDEX license_events_license ON license_events (license_id, effective_at)",
        "CREATE INDEX enterprises_district ON enterprises (district_code)",
        "CREATE INDEX license_categories_category ON license_categories (category_code)",
    ),
)


def seed(db: Database) -> None:
    """Add the built-in categories a registry lacks (``jdzhi init`` calls this)."""
    seed_builtin(db)
