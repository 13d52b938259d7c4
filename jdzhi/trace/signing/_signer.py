"""Who signs: the signing key's certificate, enterprise and license, found in a
:class:`~jdzhi.trace.trust.model.Trust` and valid now. One rule for both ways of signing: the
registry's trust as far as the key needs it (:func:`jdzhi.trace.trust.from_registry.signing_trust`)
or a trust bundle the service center signed (a workshop at its kiln, with no registry)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from jdzhi.errors import InvalidInput, InvalidState, KeyUnusable
from jdzhi.timeutil import format_time, from_unix, unix_time
from jdzhi.trace.trust.status import LicenseStatus

if TYPE_CHECKING:
    from jdzhi.registry.categories import Category
    from jdzhi.trace.trust.model import Trust, TrustedEnterprise, TrustedKey, TrustedLicense


@dataclass(frozen=True)
class Signer:
    """The signing key's certificate, enterprise and license, found valid now, and every
    category (in label-code order, as :func:`jdzhi.registry.categories.find_category` reads
    them)."""

    key: TrustedKey
    enterprise: TrustedEnterprise
    license: TrustedLicense
    categories: tuple[Category, ...]
    #: the codes of the categories the license covers
    licensed: frozenset[str]

    def license_status_at(self, moment: datetime) -> LicenseStatus:
        """The license's status at ``moment``, by the one rule
        (:func:`jdzhi.trace.trust.status.license_status_at`)."""
        return self.license.status_at(unix_time(moment))[0]


def resolve_signer(trust: Trust, public_key: bytes, now: datetime) -> Signer:
    """The signer of ``public_key`` in ``trust``, refused unless the trust data is current, the
    key is a certified licensee key active now, and its license is active now."""
    from jdzhi.registry.categories import Category

    if trust.stale_at(unix_time(now)):
        assert trust.expires_at is not None
        raise InvalidState(f"the trust bundle expired on {format_time(from_unix(trust.expires_at))}"
                           ": the license's status may have changed since; get a fresh one from "
                           "the service center (`jdzhi trust export`); nothing was signed")
    key = next((key for key in trust.keys.values() if key.public_key == public_key), None)
    if key is None:
        raise KeyUnusable(f"unknown key: the {trust.source} does not certify this key (a key "
                          "issued after the bundle, or of another registry, or a damaged key "
                          "file); nothing was signed")
    if key.role != "licensee" or key.enterprise_id is None or key.license_id is None:
        raise KeyUnusable(f"key {key.key_id} is a testing-center key, not a signing key")
    key_status = key.status_at(unix_time(now))
    if key_status != "active":
        raise InvalidState(f"key {key.key_id} is {key_status}: it cannot sign")
    enterprise = trust.enterprises[key.enterprise_id]
    lic = trust.licenses[key.license_id]
    categories = tuple(Category(found.code, found.name_zh, found.name_en, found.label_code)
                       for _, found in sorted(trust.categories.items()))
    signer = Signer(key, enterprise, lic, categories, frozenset(
        trust.categories[code].code for code in lic.categories if code in trust.categories))
    status_now = signer.license_status_at(now)
    if status_now != "active":
        raise InvalidState(f"license {lic.license_no} of {enterprise.name} is {status_now} now: "
                           "nothing was signed")
    return signer


def bundle_base_url(trust: Trust, option: str | None) -> str:
    """The label base when signing against a trust bundle: ``--base-url``, else
    ``JDZHI_BASE_URL``, else the bundle's first base; a base the bundle does not list is
    refused, as the verifiers that read the bundle would refuse its labels."""
    from jdzhi.trace.trust.from_registry import BASE_URL_ENV, given_base_url

    given = option or os.environ.get(BASE_URL_ENV)
    if not given:
        return trust.bases[0]
    base = given_base_url(given)
    if base not in trust.bases:
        raise InvalidInput(f"label base {base} is not one the trust bundle lists "
                           f"({', '.join(trust.bases)}): verifiers would refuse its labels; "
                           "nothing was signed")
    return base
