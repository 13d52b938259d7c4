"""Reading a :class:`~jdzhi.trace.trust.model.Trust` out of the registry database."""

from __future__ import annotations

import os
from datetime import date
from typing import TYPE_CHECKING

from jdzhi.errors import IntegrityError, NotInitialized
from jdzhi.registry.db import rows
from jdzhi.timeutil import stored_time, utc_now
from jdzhi.trace.formats.common import unix_time
from jdzhi.trace.formats.labels import DEFAULT_BASE_URL, check_base_url
from jdzhi.trace.trust.model import (
    Endorsement,
    LicenseStatusEvent,
    Trust,
    TrustedCategory,
    TrustedEnterprise,
    TrustedKey,
    TrustedLab,
    TrustedLicense,
)

if TYPE_CHECKING:
    import sqlite_utils

BASE_URL_ENV = "JDZHI_BASE_URL"
BASE_URL_SETTING = "base_url"


def _unix(text: str) -> int:
    return unix_time(stored_time(text))


def authority_public_key(db: sqlite_utils.Database) -> bytes:
    found = db.execute(
        "SELECT public_key FROM authority_keys ORDER BY created_at DESC LIMIT 1"
    ).fetchone()
    if found is None:
        raise NotInitialized("the registry has no authority key yet: run `jdzhi init`")
    return bytes(found[0])


def setting(db: sqlite_utils.Database, name: str) -> str | None:
    found = db.execute("SELECT value FROM trace_settings WHERE name = ?", [name]).fetchone()
    return None if found is None else str(found[0])


def registry_base_url(db: sqlite_utils.Database) -> str:
    """The label base stored at ``jdzhi init`` (else the default)."""
    return setting(db, BASE_URL_SETTING) or DEFAULT_BASE_URL


def accepted_bases(db: sqlite_utils.Database) -> tuple[str, ...]:
    """Label bases a registry verifier accepts: the stored base, then ``JDZHI_BASE_URL``."""
    bases = [registry_base_url(db)]
    from_env = os.environ.get(BASE_URL_ENV)
    if from_env and from_env not in bases:
        bases.append(check_base_url(from_env))
    return tuple(bases)


def trusted_keys(db: sqlite_utils.Database) -> dict[int, TrustedKey]:
    return {
        row["key_id"]: TrustedKey(
            key_id=row["key_id"], public_key=bytes(row["public_key"]), role=row["role"],
            not_before=_unix(row["not_before"]), not_after=_unix(row["not_after"]),
            enterprise_id=row["enterprise_id"], license_id=row["license_id"],
            lab_id=row["lab_id"],
            ended_at=_unix(row["ended_at"]) if row["ended_at"] else None,
            end_kind=row["end_kind"], end_reason=row["end_reason"],
        )
        for row in rows(db, "SELECT * FROM trust_keys ORDER BY key_id")
    }


def trusted_licenses(db: sqlite_utils.Database) -> dict[int, TrustedLicense]:
    categories: dict[int, set[int]] = {}
    for license_id, label_code in db.execute(
        "SELECT lc.license_id, c.label_code FROM license_categories lc "
        "JOIN categories c ON c.code = lc.category_code"
    ).fetchall():
        categories.setdefault(license_id, set()).add(label_code)
    events: dict[int, list[LicenseStatusEvent]] = {}
    for row in rows(db, "SELECT license_id, status, reason, effective_at, valid_to "
                        "FROM license_events ORDER BY effective_at, id"):
        events.setdefault(row["license_id"], []).append(LicenseStatusEvent(
            status=row["status"], effective_at=_unix(row["effective_at"]), reason=row["reason"],
            valid_to=date.fromisoformat(row["valid_to"]) if row["valid_to"] else None,
        ))
    licenses = {}
    for row in rows(db, "SELECT id, enterprise_id, license_no, valid_from, valid_to "
                        "FROM licenses ORDER BY id"):
        history = events.get(row["id"], [])
        if history and all(event.valid_to is None for event in history):
            # a registry whose events do not carry end dates: the license's own end date
            first = history[0]
            history[0] = LicenseStatusEvent(first.status, first.effective_at, first.reason,
                                            date.fromisoformat(row["valid_to"]))
        licenses[row["id"]] = TrustedLicense(
            id=row["id"], enterprise_id=row["enterprise_id"], license_no=row["license_no"],
            valid_from=date.fromisoformat(row["valid_from"]),
            categories=frozenset(categories.get(row["id"], ())), events=tuple(history),
        )
    return licenses


def trust_from_registry(db: sqlite_utils.Database) -> Trust:
    """Everything the registry trusts now, as verification and the trust bundle use it."""
    from jdzhi.trace.endorsements.lab import decode_endorsement

    keys = trusted_keys(db)
    enterprises = {
        row["id"]: TrustedEnterprise(row["id"], row["name"], row["short_name"], row["uscc"])
        for row in rows(db, "SELECT id, name, short_name, uscc FROM enterprises ORDER BY id")
    }
    categories = {
        row["label_code"]: TrustedCategory(row["label_code"], row["code"], row["name_zh"],
                                           row["name_en"])
        for row in rows(db, "SELECT code, name_zh, name_en, label_code FROM categories")
    }
    labs = {
        row["id"]: TrustedLab(row["id"], row["name"], row["accreditation"])
        for row in rows(db, "SELECT id, name, accreditation FROM labs ORDER BY id")
    }
    endorsements: list[Endorsement] = []
    warnings: list[str] = []
    for (message,) in db.execute("SELECT message FROM endorsements ORDER BY id").fetchall():
        try:
            endorsements.append(decode_endorsement(bytes(message), keys))
        except IntegrityError as error:  # e.g. its lab key was revoked from before it
            warnings.append(f"{error.message}; it is ignored")
    return Trust(
        source="registry",
        authority_public_key=authority_public_key(db),
        bases=accepted_bases(db),
        keys=keys,
        enterprises=enterprises,
        licenses=trusted_licenses(db),
        categories=categories,
        labs=labs,
        endorsements=tuple(endorsements),
        issued_at=unix_time(utc_now()),
        warnings=tuple(warnings),
    )
