"""The offline trust bundle: an authority-signed snapshot of everything a verifier trusts.

A bundle is one COSE_Sign1 message (content type ``application/vnd.jdzhi.bundle+cbor``,
external AAD ``b"jdzhi/bundle/1"``) signed by the authority key; its payload is a deterministic
CBOR map of short text keys, integers, text, byte strings and arrays (docs/format.md, "Trust
bundle"), simple to decode in a browser. Reading one checks, in order: size, canonical
encoding, structure, that the signer is the pinned authority key, the signature, then every field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import Conflict, IntegrityError, InvalidInput, NotInitialized
from jdzhi.files import write_new
from jdzhi.registry.db import open_registry
from jdzhi.timeutil import from_unix, unix_time, utc_now
from jdzhi.trace.ed25519 import PUBLIC_KEY_LENGTH, has_small_order
from jdzhi.trace.endorsements.lab import decode_endorsement
from jdzhi.trace.formats.common import (
    CONTENT_TYPES,
    FORMAT_VERSION,
    MAX_CATEGORY_CODE,
    MAX_KEY_ID,
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
from jdzhi.trace.keys.authority import load_authority
from jdzhi.trace.keys.certified import registry_authority_key
from jdzhi.trace.recalls.compact import decode_recalls, encode_recalls
from jdzhi.trace.tlog.bundle_log import BundleLog, open_bundle_log, proofs_payload
from jdzhi.trace.tlog.registry_log import SignedCheckpoint, sign_checkpoint
from jdzhi.trace.tlog.witness import add_cosignatures, read_cosignatures
from jdzhi.trace.trust.from_registry import require_every_key_trusted, trust_from_registry
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
    "BUNDLE_KEYS",
    "DEFAULT_VALID_DAYS",
    "OPTIONAL_BUNDLE_KEYS",
    "Exported",
    "bundle_payload",
    "decode_bundle",
    "export_bundle",
    "read_bundle",
]

DEFAULT_VALID_DAYS = 30


def bundle_payload(trust: Trust, *, issued_at: int, expires_at: int,
                   log: SignedCheckpoint | None = None) -> dict[str, Any]:
    """The bundle's map; with ``log``, its checkpoint (``ckpt``), consistency proofs (``cprf``)
    and the serials of revoked keys logged in time (``logged``)."""
    keys = []
    for key in trust.keys.values():
        # the certificate's payload, less its format version
        entry = {name: value for name, value in key.to_cbor_map().items() if name != "v"}
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
        **({} if log is None else _log_payload(trust, log)),
    }
    if trust.recalls:  # only then: a bundle without recalls keeps its bytes
        payload["rcl"] = encode_recalls(trust.recalls)
    return payload


def _log_payload(trust: Trust, log: SignedCheckpoint) -> dict[str, Any]:
    logged = trust.logged or {}
    return {
        "ckpt": log.note.decode("utf-8"),
        "cprf": proofs_payload(log.proofs),
        "logged": [{"k": key_id, "ser": [list(r) for r in logged[key_id]]}
                   for key_id in sorted(logged)],
    }


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
    log_origin: str
    log_size: int


def export_bundle(home: Home, out: Path, passphrase: bytes, *,
                  valid_days: int = DEFAULT_VALID_DAYS, now: datetime | None = None,
                  cosignatures: Sequence[Path] = ()) -> Exported:
    """Sign a checkpoint of the registry's log and its current trust as a bundle, and write it
    to ``out`` (never overwritten); ``cosignatures`` are witnesses' lines for that checkpoint
    (:func:`jdzhi.trace.tlog.witness.add_cosignatures`)."""
    if not 1 <= valid_days <= 366:
        raise InvalidInput("a bundle is valid for 1 to 366 days")
    if out.exists():
        raise Conflict(f"{out} already exists; choose another name")
    if not out.parent.is_dir():
        raise InvalidInput(f"folder {out.parent} does not exist")
    moment = now or utc_now()
    db = open_registry(home)
    try:
        trust = trust_from_registry(db)
        require_every_key_trusted(trust)
        witnessed = read_cosignatures(cosignatures, trust.keys)  # before anything is signed
        authority = load_authority(home, db, passphrase)
        # the trust read above stands: signing only records the log's origin and checkpoint
        log = sign_checkpoint(home, db, authority, moment)
    finally:
        db.close()
    if witnessed:
        log = replace(log, note=add_cosignatures(log.note, witnessed, trust.keys))
    issued = unix_time(moment)
    expires = unix_time(moment + timedelta(days=valid_days))
    message = sign1(content_type=CONTENT_TYPES["bundle"],
                    kid=authority_kid(authority.public_key),
                    payload=dumps(bundle_payload(trust, issued_at=issued, expires_at=expires,
                                                 log=log)),
                    external_aad=external_aad("bundle"), sign=authority.sign)
    write_new(out, message, exists=f"{out} already exists; choose another name")
    return Exported(str(out), len(message), from_unix(issued), from_unix(expires),
                    len(trust.keys), len(trust.enterprises), len(trust.endorsements),
                    authority_kid(authority.public_key).hex(), authority.public_key,
                    log.checkpoint.origin, log.checkpoint.size)


def _pinned_authority(home: Home | None, authority: bytes | None) -> bytes:
    if authority is not None:
        return authority
    if home is not None and home.has_registry:
        db = open_registry(home)
        try:
            return registry_authority_key(db)
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
        trust = replace(trust, log=_bundle_log(payload, pinned), logged=_logged(payload))
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


#: the top-level keys of a version-1 bundle: all required, plus the optional ones the spec
#: reserves (transparency-log checkpoint and consistency proof, logged serials of revoked keys,
#: recalls), accepted here and read by their own modules; any other key refuses the bundle
BUNDLE_KEYS = frozenset({"v", "iat", "exp", "apk", "bases", "keys", "ents", "lics", "cats",
                         "labs", "ends"})
OPTIONAL_BUNDLE_KEYS = frozenset({"ckpt", "cprf", "logged", "rcl"})
_KEY_ENTRY = {"licensee": frozenset({"k", "pk", "role", "nb", "na", "e", "l"}),
              "lab": frozenset({"k", "pk", "role", "nb", "na", "lab"})}


def _map(value: Any, what: str, required: frozenset[str],
         optional: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A bundle map holding every ``required`` key and nothing but them and ``optional`` ones."""
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a map")
    missing, unknown = required - value.keys(), value.keys() - required - optional
    if missing or unknown:
        raise ValueError(f"{what} lacks {sorted(missing)} or carries unknown keys "
                         f"{sorted(map(str, unknown))}")
    return value


def _uint(value: Any, what: str, low: int = 0, high: int | None = None) -> int:
    number = as_int(value)
    if number < low or (high is not None and number > high):
        raise ValueError(f"{what} {number} is out of range")
    return number


def _trusted_key(item: Any) -> TrustedKey:
    role = as_text(item.get("role")) if isinstance(item, dict) else ""
    if not is_key_role(role):
        raise ValueError(f"a key has the unknown role {role!r}")
    item = _map(item, "a key", _KEY_ENTRY[role], frozenset({"end"}))
    key_id = _uint(item["k"], "key id", 1, MAX_KEY_ID)
    public_key = item["pk"]
    if (not isinstance(public_key, bytes) or len(public_key) != PUBLIC_KEY_LENGTH
            or has_small_order(public_key)):
        raise ValueError(f"key {key_id}'s public key is not a usable Ed25519 key")
    end = (_map(item["end"], f"key {key_id}'s end", frozenset({"at", "kind", "r"}))
           if "end" in item else None)
    end_kind = as_text(end["kind"]) if end else None
    if end_kind is not None and not is_key_end_kind(end_kind):
        raise ValueError(f"key {key_id} ended in the unknown way {end_kind!r}")
    not_before, not_after = _uint(item["nb"], "nb"), _uint(item["na"], "na")
    if not_after <= not_before:
        raise ValueError(f"key {key_id}'s window ends before it starts")
    return TrustedKey(
        key_id=key_id, public_key=public_key, role=role, not_before=not_before,
        not_after=not_after,
        enterprise_id=_uint(item["e"], "enterprise id") if role == "licensee" else None,
        license_id=_uint(item["l"], "license id") if role == "licensee" else None,
        lab_id=_uint(item["lab"], "lab id") if role == "lab" else None,
        ended_at=_uint(end["at"], "end time") if end else None,
        end_kind=end_kind, end_reason=as_text(end["r"]) if end else "",
    )


def _trusted_license(item: Any) -> TrustedLicense:
    item = _map(item, "a license", frozenset({"id", "e", "no", "from", "cats", "ev"}))
    events = tuple(
        LicenseStatusEvent(_event_status(ev["s"]), _uint(ev["at"], "event time"),
                           as_text(ev["r"]),
                           date.fromisoformat(as_text(ev["to"])) if "to" in ev else None)
        for ev in (_map(ev, "a license event", frozenset({"s", "at", "r"}), frozenset({"to"}))
                   for ev in item["ev"])
    )
    if any(later.effective_at < earlier.effective_at
           for earlier, later in pairwise(events)):
        raise ValueError(f"license {item['id']!r} lists its events out of effective order")
    return TrustedLicense(
        id=_uint(item["id"], "license id"), enterprise_id=_uint(item["e"], "enterprise id"),
        license_no=as_text(item["no"]), valid_from=_iso_date(item["from"]),
        categories=frozenset(_uint(code, "category code", 1, MAX_CATEGORY_CODE)
                             for code in item["cats"]),
        events=events,
    )


def _check_references(keys: dict[int, TrustedKey], enterprises: dict[int, TrustedEnterprise],
                      licenses: dict[int, TrustedLicense]) -> None:
    """Every licensee key's license is in ``lics`` and of the key's enterprise, and every
    license's enterprise in ``ents``: a bundle that names what it does not hold is refused."""
    for lic in licenses.values():
        if lic.enterprise_id not in enterprises:
            raise ValueError(f"license {lic.id} is of enterprise {lic.enterprise_id}, which the "
                             "bundle does not list")
    for key in keys.values():
        if key.license_id is None:
            continue
        held = licenses.get(key.license_id)
        if held is None or held.enterprise_id != key.enterprise_id:
            raise ValueError(f"key {key.key_id}'s license {key.license_id} of enterprise "
                             f"{key.enterprise_id} is not in the bundle")


def _iso_date(value: Any) -> date:
    text = as_text(value)
    day = date.fromisoformat(text)
    if day.isoformat() != text:
        raise ValueError(f"{text!r} is not a date YYYY-MM-DD")
    return day


def _trust_from_payload(payload: Any, pinned: bytes, source: str) -> Trust:
    if not isinstance(payload, dict) or payload.get("v") != FORMAT_VERSION:
        raise ValueError("unsupported bundle version")
    _map(payload, "the bundle", BUNDLE_KEYS, OPTIONAL_BUNDLE_KEYS)
    if payload["apk"] != pinned:
        raise ValueError("the bundle names another authority key")
    keys = {key.key_id: key for key in map(_trusted_key, payload["keys"])}
    enterprises = {
        _uint(e["id"], "enterprise id"): TrustedEnterprise(
            e["id"], as_text(e["name"]), as_text(e["short"]), as_text(e["uscc"]))
        for e in (_map(e, "an enterprise", frozenset({"id", "name", "short", "uscc"}))
                  for e in payload["ents"])
    }
    licenses = {lic.id: lic for lic in map(_trusted_license, payload["lics"])}
    categories = {
        _uint(c["c"], "category code", 1, MAX_CATEGORY_CODE): TrustedCategory(
            c["c"], as_text(c["code"]), as_text(c["zh"]), as_text(c["en"]))
        for c in (_map(c, "a category", frozenset({"c", "code", "zh", "en"}))
                  for c in payload["cats"])
    }
    labs = {_uint(lab["id"], "lab id"): TrustedLab(lab["id"], as_text(lab["name"]),
                                                   as_text(lab["acc"]))
            for lab in (_map(lab, "a lab", frozenset({"id", "name", "acc"}))
                        for lab in payload["labs"])}
    _check_references(keys, enterprises, licenses)
    bases = tuple(check_base_url(as_text(base)) for base in payload["bases"])
    if not bases:
        raise ValueError("the bundle names no label base")
    return Trust(
        source=source, authority_public_key=pinned, bases=bases, keys=keys,
        enterprises=enterprises, licenses=licenses, categories=categories, labs=labs,
        endorsements=(), issued_at=_uint(payload["iat"], "iat"),
        expires_at=_uint(payload["exp"], "exp"),
    )


def _bundle_log(payload: dict[str, Any], pinned: bytes) -> BundleLog | None:
    if "ckpt" not in payload:
        if "cprf" in payload:
            raise ValueError("cprf without ckpt")
        return None
    try:
        return open_bundle_log(payload["ckpt"], payload.get("cprf", []), pinned)
    except InvalidInput as error:  # text that is no signed checkpoint
        raise ValueError(f"ckpt: {error.message}") from None


def _logged(payload: dict[str, Any]) -> dict[int, tuple[tuple[int, int], ...]] | None:
    if "logged" not in payload:
        return None
    logged: dict[int, tuple[tuple[int, int], ...]] = {}
    for item in payload["logged"]:
        ranges = tuple((as_int(low), as_int(high)) for low, high in item["ser"])
        if any(low > high for low, high in ranges) or as_int(item["k"]) in logged:
            raise ValueError("a logged serial range is malformed")
        logged[as_int(item["k"])] = ranges
    return logged


def _event_status(value: Any) -> LicenseEventStatus:
    status = as_text(value)
    if not is_license_event_status(status):
        raise ValueError(f"a license event has the unknown status {status!r}")
    return status
