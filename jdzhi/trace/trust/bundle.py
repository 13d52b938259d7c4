"""The offline trust bundle: an authority-signed snapshot of everything a verifier trusts.

A bundle is one COSE_Sign1 message (content type ``application/vnd.jdzhi.bundle+cbor``,
external AAD ``b"jdzhi/bundle/1"``) signed by the authority key; its payload is a deterministic
CBOR map of short text keys, integers, text, byte strings and arrays (docs/format.md, "Trust
bundle"), simple to decode in a browser. Reading one checks, in order: size, canonical
encoding, structure, that the signer is the pinned authority key, the signature, then every field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import Conflict, IntegrityError, InvalidInput, NotInitialized
from jdzhi.registry.db import open_registry
from jdzhi.timeutil import from_unix, unix_time, utc_now
from jdzhi.trace.endorsements.lab import decode_endorsement
from jdzhi.trace.formats.common import (
    CONTENT_TYPES,
    FORMAT_VERSION,
    as_int,
    as_text,
    authority_kid,
    external_aad,
)
from jdzhi.trace.formats.cose import (
    MAX_MESSAGE_BYTES,
    CoseError,
    decode_sign1,
    dumps,
    loads_canonical,
    sign1,
    verify_sign1,
)
from jdzhi.trace.formats.labels import check_base_url
from jdzhi.trace.keys.authority import authority_public_key, load_authority
from jdzhi.trace.recalls.compact import decode_recalls, encode_recalls
from jdzhi.trace.trust.from_registry import trust_from_registry
from jdzhi.trace.trust.model import (
    Trust,
    TrustedCategory,
    TrustedEnterprise,
    TrustedKey,
    TrustedLab,
    TrustedLicense,
)
from jdzhi.trace.trust.status import (
    LicenseEventStatus,
    LicenseStatusEvent,
    is_key_end_kind,
    is_key_role,
    is_license_event_status,
)

if TYPE_CHECKING:
    from jdzhi.home import Home

__all__ = [
    "DEFAULT_VALID_DAYS",
    "Exported",
    "bundle_payload",
    "decode_bundle",
    "export_bundle",
    "read_bundle",
]

DEFAULT_VALID_DAYS = 30


def bundle_payload(trust: Trust, *, issued_at: int, expires_at: int) -> dict[str, Any]:
    keys = []
    for key in trust.keys.values():
        entry: dict[str, Any] = {"k": key.key_id, "pk": key.public_key, "role": key.role,
                                 "nb": key.not_before, "na": key.not_after}
        if key.role == "licensee":
            entry["e"], entry["l"] = key.enterprise_id, key.license_id
        else:
            entry["lab"] = key.lab_id
        if key.ended_at is not None:
            entry["end"] = {"at": key.ended_at, "kind": key.end_kind, "r": key.end_reason}
        keys.append(entry)
    licenses = []
    for lic in trust.licenses.values():
        events = []
        for event in lic.events:
            item: dict[str, Any] = {"s": event.status, "at": event.effective_at, "r": event.reason}
            if event.valid_to is not None:
                item["to"] = event.valid_to.isoformat()
            events.append(item)
        licenses.append({"id": lic.id, "e": lic.enterprise_id, "no": lic.license_no,
                         "from": lic.valid_from.isoformat(), "cats": sorted(lic.categories),
                         "ev": events})
    payload: dict[str, Any] = {
        "v": FORMAT_VERSION, "iat": issued_at, "exp": expires_at,
        "apk": trust.authority_public_key, "bases": list(trust.bases),
        "keys": keys,
        "ents": [{"id": e.id, "name": e.name, "short": e.short_name, "uscc": e.uscc}
                 for e in trust.enterprises.values()],
        "lics": licenses,
        "cats": [{"c": c.label_code, "code": c.code, "zh": c.name_zh, "en": c.name_en}
                 for c in sorted(trust.categories.values(), key=lambda c: c.label_code)],
        "labs": [{"id": lab.id, "name": lab.name, "acc": lab.accreditation}
                 for lab in trust.labs.values()],
        "ends": [e.message for e in trust.endorsements],
    }
    if trust.recalls:  # only then: a bundle without recalls keeps its bytes
        payload["rcl"] = encode_recalls(trust.recalls)
    return payload


@dataclass(frozen=True)
class Exported:
    path: str
    size: int
    issued_at: datetime
    expires_at: datetime
    keys: int
    enterprises: int
    endorsements: int
    authority_kid: str
    authority_public_key: bytes


def export_bundle(home: Home, out: Path, passphrase: bytes, *,
                  valid_days: int = DEFAULT_VALID_DAYS, now: datetime | None = None) -> Exported:
    """Sign the registry's current trust as a bundle and write it to ``out`` (never overwritten)."""
    if not 1 <= valid_days <= 366:
        raise InvalidInput("a bundle is valid for 1 to 366 days")
    if out.exists():
        raise Conflict(f"{out} already exists; choose another name")
    if not out.parent.is_dir():
        raise InvalidInput(f"folder {out.parent} does not exist")
    db = open_registry(home)
    try:
        trust = trust_from_registry(db)
        authority = load_authority(home, db, passphrase)
    finally:
        db.close()
    moment = now or utc_now()
    issued = unix_time(moment)
    expires = unix_time(moment + timedelta(days=valid_days))
    message = sign1(content_type=CONTENT_TYPES["bundle"],
                    kid=authority_kid(authority.public_key),
                    payload=dumps(bundle_payload(trust, issued_at=issued, expires_at=expires)),
                    external_aad=external_aad("bundle"), sign=authority.sign)
    try:
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(message)
    except FileExistsError:
        raise Conflict(f"{out} already exists; choose another name") from None
    except OSError as error:
        raise InvalidInput(f"cannot write {out}: {error.strerror}") from None
    return Exported(str(out), len(message), from_unix(issued), from_unix(expires),
                    len(trust.keys), len(trust.enterprises), len(trust.endorsements),
                    authority_kid(authority.public_key).hex(), authority.public_key)


def _pinned_authority(home: Home | None, authority: bytes | None) -> bytes:
    if authority is not None:
        return authority
    if home is not None and home.db_path.exists():
        db = open_registry(home)
        try:
            return authority_public_key(db)
        except NotInitialized:
            pass
        finally:
            db.close()
    raise InvalidInput(
        "no authority key to check the bundle against: pass --authority (the authority's "
        "public key from `jdzhi trust export`) or use a home that has one"
    )


def read_bundle(path: Path, *, authority: bytes | None, home: Home | None,
                now: datetime, max_age_days: int | None = None) -> Trust:
    """Load a bundle, refusing anything not signed by the pinned authority key; see
    :func:`decode_bundle` for ``max_age_days``."""
    try:
        if path.stat().st_size > MAX_MESSAGE_BYTES:
            raise IntegrityError(f"{path} is far too large to be a trust bundle")
        data = path.read_bytes()
    except OSError as error:
        raise InvalidInput(f"cannot read trust bundle {path}: {error.strerror}") from None
    pinned = _pinned_authority(home, authority)
    return decode_bundle(data, pinned, now=now, source=f"bundle {path}",
                         max_age_days=max_age_days)


def decode_bundle(data: bytes, pinned: bytes, *, now: datetime, source: str = "bundle",
                  max_age_days: int | None = None) -> Trust:
    """A bundle's trust, checked. ``max_age_days`` makes the bundle expire that many days after
    it was issued when that comes before its own expiry (a verifier's stricter policy)."""
    try:
        message = decode_sign1(data, what="trust bundle")
    except CoseError as error:
        raise IntegrityError(f"the trust bundle is damaged or not a bundle: {error}") from None
    if message.content_type != CONTENT_TYPES["bundle"]:
        raise IntegrityError("the file is a jdzhi message but not a trust bundle")
    if message.kid != authority_kid(pinned) or not verify_sign1(message, pinned,
                                                                external_aad("bundle")):
        raise IntegrityError(
            "the trust bundle is not signed by the authority key (altered, or from another "
            "authority): refused"
        )
    try:
        payload = loads_canonical(message.payload, what="trust bundle payload")
        trust = _trust_from_payload(payload, pinned, source)
        endorsements = tuple(decode_endorsement(item, trust.keys) for item in payload["ends"])
        recalls = decode_recalls(payload.get("rcl", []))
    except (CoseError, AttributeError, KeyError, TypeError, ValueError) as error:
        raise IntegrityError(f"the signed trust bundle has an invalid field: {error}") from None
    if max_age_days is not None and trust.expires_at is not None:
        trust = replace(trust, expires_at=min(trust.expires_at,
                                              trust.issued_at + max_age_days * 86400))
    warnings: tuple[str, ...] = ()
    if trust.expires_at is not None and trust.stale_at(unix_time(now)):
        warnings = (f"the trust bundle expired on {from_unix(trust.expires_at):%Y-%m-%d %H:%M} "
                    "UTC: statuses may be out of date; get a fresh one",)
    return replace(trust, endorsements=endorsements, warnings=warnings, recalls=recalls)


def _trust_from_payload(payload: Any, pinned: bytes, source: str) -> Trust:
    if not isinstance(payload, dict) or payload.get("v") != FORMAT_VERSION:
        raise ValueError("unsupported bundle version")
    if payload["apk"] != pinned:
        raise ValueError("the bundle names another authority key")
    keys: dict[int, TrustedKey] = {}
    for item in payload["keys"]:
        end = item.get("end")
        role = as_text(item["role"])
        end_kind = as_text(end["kind"]) if end else None
        if (not is_key_role(role) or not isinstance(item["pk"], bytes)
                or (end_kind is not None and not is_key_end_kind(end_kind))):
            raise ValueError(f"key {item.get('k')!r} is malformed")
        key = TrustedKey(
            key_id=as_int(item["k"]), public_key=item["pk"], role=role,
            not_before=as_int(item["nb"]), not_after=as_int(item["na"]),
            enterprise_id=as_int(item["e"]) if role == "licensee" else None,
            license_id=as_int(item["l"]) if role == "licensee" else None,
            lab_id=as_int(item["lab"]) if role == "lab" else None,
            ended_at=as_int(end["at"]) if end else None,
            end_kind=end_kind,
            end_reason=as_text(end["r"]) if end else "",
        )
        keys[key.key_id] = key
    enterprises = {
        as_int(e["id"]): TrustedEnterprise(as_int(e["id"]), as_text(e["name"]), as_text(e["short"]),
                                         as_text(e["uscc"]))
        for e in payload["ents"]
    }
    licenses = {}
    for item in payload["lics"]:
        events = tuple(
            LicenseStatusEvent(_event_status(ev["s"]), as_int(ev["at"]), as_text(ev["r"]),
                               date.fromisoformat(as_text(ev["to"])) if "to" in ev else None)
            for ev in item["ev"]
        )
        licenses[as_int(item["id"])] = TrustedLicense(
            id=as_int(item["id"]), enterprise_id=as_int(item["e"]), license_no=as_text(item["no"]),
            valid_from=date.fromisoformat(as_text(item["from"])),
            categories=frozenset(as_int(code) for code in item["cats"]), events=events,
        )
    categories = {
        as_int(c["c"]): TrustedCategory(as_int(c["c"]), as_text(c["code"]), as_text(c["zh"]),
                                      as_text(c["en"]))
        for c in payload["cats"]
    }
    labs = {as_int(lab["id"]): TrustedLab(as_int(lab["id"]), as_text(lab["name"]),
                                          as_text(lab["acc"]))
            for lab in payload["labs"]}
    bases = tuple(check_base_url(as_text(base)) for base in payload["bases"])
    if not bases:
        raise ValueError("the bundle names no label base")
    return Trust(
        source=source, authority_public_key=pinned, bases=bases, keys=keys,
        enterprises=enterprises, licenses=licenses, categories=categories, labs=labs,
        endorsements=(), issued_at=as_int(payload["iat"]), expires_at=as_int(payload["exp"]),
    )


def _event_status(value: Any) -> LicenseEventStatus:
    status = as_text(value)
    if not is_license_event_status(status):
        raise ValueError(f"a license event has the unknown status {status!r}")
    return status
