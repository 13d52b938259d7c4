"""Reading a :class:`~jdzhi.trace.trust.model.Trust` out of the registry database."""

from __future__ import annotations

import os
from datetime import date
from typing import TYPE_CHECKING

from jdzhi.errors import IntegrityError, InvalidInput
from jdzhi.registry.db import rows
from jdzhi.registry.licenses import event_history_by_license, history
from jdzhi.timeutil import unix_time, utc_now
from jdzhi.trace.endorsements.lab import decode_endorsement
from jdzhi.trace.formats.common import FormatError
from jdzhi.trace.formats.labels import DEFAULT_BASE_URL, check_base_url
from jdzhi.trace.keys.certified import certified_key, certified_keys, registry_authority_key
from jdzhi.trace.recalls.store import trusted_recalls
from jdzhi.trace.tlog.logged import logged_serials
from jdzhi.trace.trust.model import (
    Endorsement,
    LicenseStatusEvent,
    Trust,
    TrustedCategory,
    TrustedEnterprise,
    TrustedLab,
    TrustedLicense,
)

if TYPE_CHECKING:
    from jdzhi.registry.db import Database

__all__ = [
    "BASE_URL_ENV",
    "BASE_URL_SETTING",
    "accepted_bases",
    "given_base_url",
    "registry_base_url",
    "require_every_key_trusted",
    "setting",
    "signing_trust",
    "trust_from_registry",
    "trusted_licenses",
]

BASE_URL_ENV = "JDZHI_BASE_URL"
BASE_URL_SETTING = "base_url"


def setting(db: Database, name: str) -> str | None:
    found = db.execute("SELECT value FROM trace_settings WHERE name = ?", [name]).fetchone()
    return None if found is None else str(found[0])


def given_base_url(text: str) -> str:
    """A label base people gave (an option, ``JDZHI_BASE_URL``), checked: InvalidInput if bad."""
    try:
        return check_base_url(text)
    except FormatError as error:
        raise InvalidInput(str(error)) from None


def registry_base_url(db: Database) -> str:
    """The label base stored at ``jdzhi init`` (else the default)."""
    return setting(db, BASE_URL_SETTING) or DEFAULT_BASE_URL


def accepted_bases(db: Database) -> tuple[str, ...]:
    """Label bases a registry verifier accepts: the stored base, then ``JDZHI_BASE_URL``."""
    bases = [registry_base_url(db)]
    from_env = os.environ.get(BASE_URL_ENV)
    if from_env and from_env not in bases:
        bases.append(given_base_url(from_env))
    return tuple(bases)


def trusted_licenses(db: Database,
                     license_id: int | None = None) -> dict[int, TrustedLicense]:
    """Every license (or the one of ``license_id``) with the events that count (superseded ones
    left out)."""
    only = "" if license_id is None else " WHERE id = ?"
    params = [] if license_id is None else [license_id]
    categories: dict[int, set[int]] = {}
    for found_id, label_code in db.execute(
        "SELECT lc.license_id, c.label_code FROM license_categories lc "
        "JOIN categories c ON c.code = lc.category_code"
        + ("" if license_id is None else " WHERE lc.license_id = ?"), params
    ).fetchall():
        categories.setdefault(found_id, set()).add(label_code)
    events = (event_history_by_license(db) if license_id is None
              else {license_id: list(history(db, license_id))})
    licenses = {}
    for row in rows(db, "SELECT id, enterprise_id, license_no, valid_from, valid_to "
                        f"FROM licenses{only} ORDER BY id", params):
        counted = [event.status_event() for event in events.get(row["id"], [])
                   if not event.superseded]
        if counted and all(event.valid_to is None for event in counted):
            # a registry whose events do not carry end dates: the license's own end date
            first = counted[0]
            counted[0] = LicenseStatusEvent(first.status, first.effective_at, first.reason,
                                            date.fromisoformat(row["valid_to"]))
        licenses[row["id"]] = TrustedLicense(
            id=row["id"], enterprise_id=row["enterprise_id"], license_no=row["license_no"],
            valid_from=date.fromisoformat(row["valid_from"]),
            categories=frozenset(categories.get(row["id"], ())), events=tuple(counted),
        )
    return licenses


def _categories(db: Database) -> dict[int, TrustedCategory]:
    return {
        row["label_code"]: TrustedCategory(row["label_code"], row["code"], row["name_zh"],
                                           row["name_en"])
        for row in rows(db, "SELECT code, name_zh, name_en, label_code FROM categories")
    }


def _enterprises(db: Database,
                 enterprise_id: int | None = None) -> dict[int, TrustedEnterprise]:
    only = "" if enterprise_id is None else " WHERE id = ?"
    return {
        row["id"]: TrustedEnterprise(row["id"], row["name"], row["short_name"], row["uscc"])
        for row in rows(db, f"SELECT id, name, short_name, uscc FROM enterprises{only} "
                            "ORDER BY id", [] if enterprise_id is None else [enterprise_id])
    }


def signing_trust(db: Database, public_key: bytes) -> Trust:
    """What the registry trusts as far as signing with this key needs it: the key (its
    certificate checked, KeyUnusable when the registry never certified it), its enterprise and
    license (a licensee's), and every category. Reading only those keeps `jdzhi sign` as fast
    in a registry of thousands of keys as in a small one; the signer is then found in it as in a
    trust bundle (:mod:`jdzhi.trace.signing.batch`)."""
    key = certified_key(db, public_key)
    return Trust(
        source="registry",
        authority_public_key=registry_authority_key(db),
        bases=accepted_bases(db),
        keys={key.key_id: key},
        enterprises=_enterprises(db, key.enterprise_id) if key.enterprise_id is not None else {},
        licenses=trusted_licenses(db, key.license_id) if key.license_id is not None else {},
        categories=_categories(db),
        labs={},
        endorsements=(),
        issued_at=unix_time(utc_now()),
    )


def trust_from_registry(db: Database) -> Trust:
    """Everything the registry trusts now, as verification and the trust bundle use it: keys
    only as their certificates vouch for them, under the home's authority key file (a key whose
    certificate fails is in ``refused_keys``, never in ``keys``)."""
    certified = certified_keys(db)
    keys = certified.trusted
    enterprises = _enterprises(db)
    categories = _categories(db)
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
    licenses = trusted_licenses(db)
    now = unix_time(utc_now())
    return Trust(
        source="registry",
        authority_public_key=certified.authority_public_key,
        bases=accepted_bases(db),
        keys=keys,
        enterprises=enterprises,
        licenses=licenses,
        categories=categories,
        labs=labs,
        endorsements=tuple(endorsements),
        issued_at=now,
        warnings=tuple(warnings),
        logged=logged_serials(db, keys, licenses, now),
        refused_keys=certified.refused,
        recalls=trusted_recalls(db),
    )


def require_every_key_trusted(trust: Trust) -> None:
    """Refuse (IntegrityError, naming the key) to publish a registry's trust while it holds a key
    whose certificate fails: signing a bundle is where a rogue row would become trusted."""
    for reason in trust.refused_keys.values():
        raise IntegrityError(f"{reason}: refused, nothing was signed (a key row was written "
                             "outside jdzhi; see `jdzhi registry audit`)")
