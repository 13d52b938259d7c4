"""The licensee and lab keys the authority (:mod:`jdzhi.trace.keys.authority`) certifies.

A certified key gets a key id (1..65535, the id labels carry), a validity window and an
authority-signed certificate; it ends by revocation (with an effective time that may lie in the
past, or up to a year ahead) or when a rotation supersedes it. A revocation effective now or
earlier always goes through, replacing a revocation dated later (the audit log keeps both).
Its status at a moment is :func:`jdzhi.trace.trust.status.key_status_at`.

A key is trusted only when its certificate verifies under the authority public key of the home's
key file and certifies exactly what its row says (:func:`certified_keys`): a row that anyone
who can write the database could add or change is never enough.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import (
    IntegrityError,
    InvalidInput,
    InvalidState,
    KeyUnusable,
    NotFound,
    NotInitialized,
)
from jdzhi.home import Home
from jdzhi.registry import audit
from jdzhi.registry.db import rows, transaction
from jdzhi.registry.enterprises import get_enterprise
from jdzhi.registry.licenses import current_license, effective_status
from jdzhi.timeutil import end_of_cst_day, format_time, stored_time, unix_time, utc_now
from jdzhi.trace.formats.certs import CertFields, certificate_problem, sign_cert
from jdzhi.trace.formats.common import MAX_KEY_ID
from jdzhi.trace.keys.authority import (
    authority_public_key,
    authority_public_path,
    load_authority,
)
from jdzhi.trace.keys.keyfile import (
    MAX_KEY_FILE_BYTES,
    SigningKey,
    check_new_key_path,
    generate,
    write_key,
)
from jdzhi.trace.trust.model import TrustedKey
from jdzhi.trace.trust.status import KeyEndKind, KeyRole, KeyStatus, dated_change, key_status_at

if TYPE_CHECKING:
    from jdzhi.registry.db import Database

__all__ = [
    "DEFAULT_KEY_YEARS",
    "CertifiedKeys",
    "IssuedKey",
    "KeyInfo",
    "certificate_problems",
    "certified_key",
    "certified_keys",
    "get_key",
    "issue_lab_key",
    "issue_licensee_key",
    "key_by_public_key",
    "list_keys",
    "registry_authority_key",
    "revoke_key",
    "trusted_keys",
]

#: default lifetime of a licensee or lab key
DEFAULT_KEY_YEARS = 3


@dataclass(frozen=True)
class KeyInfo:
    key_id: int
    role: KeyRole
    public_key: bytes
    not_before: datetime
    not_after: datetime
    issued_at: datetime
    enterprise_id: int | None
    enterprise: str | None
    license_no: str | None
    lab_id: int | None
    lab: str | None
    ended_at: datetime | None
    end_kind: KeyEndKind | None
    end_reason: str

    def status_at(self, moment: datetime) -> KeyStatus:
        return key_status_at(
            unix_time(moment), not_before=unix_time(self.not_before),
            not_after=unix_time(self.not_after),
            ended_at=unix_time(self.ended_at) if self.ended_at else None, end_kind=self.end_kind)

    def revocation_pending(self, now: datetime) -> bool:
        """Whether a revocation is recorded that takes effect after ``now``."""
        return self.end_kind == "revoked" and self.ended_at is not None and self.ended_at > now


_KEY_QUERY = (
    "SELECT k.*, e.name AS enterprise, l.license_no, b.name AS lab FROM trust_keys k "
    "LEFT JOIN enterprises e ON e.id = k.enterprise_id "
    "LEFT JOIN licenses l ON l.id = k.license_id LEFT JOIN labs b ON b.id = k.lab_id"
)


def _key_info(row: dict[str, Any]) -> KeyInfo:
    return KeyInfo(
        key_id=row["key_id"], role=row["role"], public_key=bytes(row["public_key"]),
        not_before=stored_time(row["not_before"]), not_after=stored_time(row["not_after"]),
        issued_at=stored_time(row["issued_at"]), enterprise_id=row["enterprise_id"],
        enterprise=row["enterprise"], license_no=row["license_no"], lab_id=row["lab_id"],
        lab=row["lab"], ended_at=stored_time(row["ended_at"]) if row["ended_at"] else None,
        end_kind=row["end_kind"], end_reason=row["end_reason"],
    )


def list_keys(db: Database) -> tuple[KeyInfo, ...]:
    return tuple(_key_info(row) for row in rows(db, f"{_KEY_QUERY} ORDER BY k.key_id"))


def get_key(db: Database, key_id: int) -> KeyInfo:
    found = rows(db, f"{_KEY_QUERY} WHERE k.key_id = ?", [key_id])
    if not found:
        raise NotFound(f"no certified key with id {key_id} (see `jdzhi keys list`)")
    return _key_info(found[0])


def key_by_public_key(db: Database, public_key: bytes) -> KeyInfo:
    """The certified key of a key file's public key; IntegrityError when its certificate does
    not vouch for it (a row added or changed outside jdzhi)."""
    return _key_info(_certified_row(db, public_key))


def certified_key(db: Database, public_key: bytes) -> TrustedKey:
    """:func:`key_by_public_key`, as verification reads a key (:func:`certified_keys`)."""
    return _trusted_key(_certified_row(db, public_key))


def _certified_row(db: Database, public_key: bytes) -> dict[str, Any]:
    found = rows(db, f"{_KEY_QUERY} WHERE k.public_key = ?", [public_key])
    if not found:
        # a damaged key file can still decrypt, to another key: say so beside the usual cause
        raise KeyUnusable("this key was never certified by this registry's authority "
                          "(a key file of another registry, or a damaged one)")
    problem = _certificate_problem(found[0], registry_authority_key(db))
    if problem is not None:
        raise IntegrityError(f"{problem}: the key is not trusted (its row was written outside "
                             "jdzhi); run `jdzhi registry audit`")
    return found[0]


def registry_authority_key(db: Database) -> bytes:
    """The authority public key that certificates are checked against: the home's key file
    (``keys/authority.pub``, written by `jdzhi init`), which the registry's ``authority_keys``
    row must equal. IntegrityError when the file is missing or the two differ."""
    stored = authority_public_key(db)
    path = authority_public_path(_home_of(db))
    if not path.is_file():
        raise IntegrityError(f"the authority public key file {path} is missing: restore it from "
                             "its backup (keys cannot be checked without it)")
    on_file = _pem_public_key(path)
    if on_file != stored:
        raise IntegrityError(f"the registry's authority key differs from {path}: the database "
                             "(or the key file) was replaced; nothing in it is trusted")
    return on_file


#: RFC 8410: the DER SubjectPublicKeyInfo of every Ed25519 public key, up to its 32 raw bytes
_ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
_PEM_BEGIN, _PEM_END = b"-----BEGIN PUBLIC KEY-----", b"-----END PUBLIC KEY-----"


def _pem_public_key(path: Path) -> bytes:
    """The raw key of an Ed25519 PEM public key file, read by its fixed RFC 8410 form: loading
    ``cryptography`` for it would add a tenth of a second to every `jdzhi verify`."""
    pem = path.read_bytes()[:MAX_KEY_FILE_BYTES].strip()
    try:
        if not (pem.startswith(_PEM_BEGIN) and pem.endswith(_PEM_END)):
            raise ValueError("no PEM public key")
        der = base64.b64decode(b"".join(pem[len(_PEM_BEGIN):-len(_PEM_END)].split()),
                               validate=True)
    except (ValueError, binascii.Error):
        der = b""
    if len(der) != len(_ED25519_SPKI_PREFIX) + 32 or not der.startswith(_ED25519_SPKI_PREFIX):
        raise IntegrityError(f"{path} is not the authority's Ed25519 PEM public key file")
    return der[len(_ED25519_SPKI_PREFIX):]


def _home_of(db: Database) -> Home:
    if db.home is not None:
        return db.home
    raise NotInitialized("this registry is not in a jdzhi home: no authority key file to check "
                         "its keys against")


@dataclass(frozen=True)
class CertifiedKeys:
    """The registry's keys split by their certificates: ``trusted`` as verification reads them,
    ``refused`` the ids of the others with why (``key 3's certificate is not signed by ...``),
    both under ``authority_public_key``."""

    authority_public_key: bytes
    trusted: dict[int, TrustedKey]
    refused: dict[int, str]


def certified_keys(db: Database) -> CertifiedKeys:
    """Every key of the registry, its certificate checked once, against the authority key of
    :func:`registry_authority_key`."""
    authority = registry_authority_key(db)
    trusted: dict[int, TrustedKey] = {}
    refused: dict[int, str] = {}
    for row in rows(db, "SELECT * FROM trust_keys ORDER BY key_id"):
        problem = _certificate_problem(row, authority)
        if problem is not None:
            refused[row["key_id"]] = problem
            continue
        key = _trusted_key(row)
        trusted[key.key_id] = key
    return CertifiedKeys(authority, trusted, refused)


def _trusted_key(row: dict[str, Any]) -> TrustedKey:
    """A ``trust_keys`` row whose certificate vouches for it, as verification reads it."""
    fields = _cert_fields(row)
    return TrustedKey(
        key_id=fields.key_id, public_key=fields.public_key, role=row["role"],
        not_before=fields.not_before, not_after=fields.not_after,
        enterprise_id=fields.enterprise_id, license_id=fields.license_id,
        lab_id=fields.lab_id, ended_at=_unix(row["ended_at"]) if row["ended_at"] else None,
        end_kind=row["end_kind"], end_reason=row["end_reason"],
    )


def trusted_keys(db: Database) -> dict[int, TrustedKey]:
    """Every key whose certificate vouches for it, as verification reads it."""
    return certified_keys(db).trusted


def certificate_problems(db: Database) -> list[str]:
    """What `registry audit` reports of certificates: the authority key file that disagrees with
    the registry, or each key whose certificate does not vouch for its row."""
    if db.execute("SELECT 1 FROM trust_keys LIMIT 1").fetchone() is None:
        return []  # no key yet, nothing trusted: a registry before `jdzhi init` made its authority
    try:
        refused = certified_keys(db).refused
    except (IntegrityError, NotInitialized) as error:
        return [error.message]
    return [f"{problem}: the key is not trusted" for problem in refused.values()]


def _unix(text: str) -> int:
    return unix_time(stored_time(text))


def _cert_fields(row: dict[str, Any]) -> CertFields:
    """What a ``trust_keys`` row says its certificate certifies."""
    return CertFields(
        key_id=row["key_id"], public_key=bytes(row["public_key"]), role=row["role"],
        not_before=_unix(row["not_before"]), not_after=_unix(row["not_after"]),
        enterprise_id=row["enterprise_id"], license_id=row["license_id"], lab_id=row["lab_id"])


def _certificate_problem(row: dict[str, Any], authority: bytes) -> str | None:
    """``key N's certificate ...`` when the row's certificate does not vouch for the row."""
    what = f"key {row['key_id']}'s certificate"
    certificate = row["certificate"]
    if not isinstance(certificate, bytes) or not isinstance(row["public_key"], bytes):
        return f"{what} is not a certificate (damaged or made up)"
    try:
        expected = _cert_fields(row)
    except (TypeError, ValueError):
        return f"{what} cannot match its row, whose dates are not in the stored form"
    problem = certificate_problem(certificate, expected, authority)
    return None if problem is None else f"{what} {problem}"


def _window(now: datetime, valid_until: date | None) -> tuple[datetime, datetime]:
    """A new key's validity window: from ``now`` to the end of ``valid_until`` (China Standard
    Time), else to :data:`DEFAULT_KEY_YEARS` years on."""
    if valid_until is None:
        try:
            not_after = now.replace(year=now.year + DEFAULT_KEY_YEARS)
        except ValueError:  # 29 February
            not_after = now.replace(year=now.year + DEFAULT_KEY_YEARS, day=28)
    else:
        not_after = end_of_cst_day(valid_until)
    if not_after <= now:
        raise InvalidInput(f"the key would expire ({format_time(not_after)}) before it starts")
    return now, not_after


def _next_key_id(db: Database) -> int:
    (highest,) = db.execute("SELECT COALESCE(MAX(key_id), 0) FROM trust_keys").fetchone()
    if highest >= MAX_KEY_ID:
        raise InvalidState(f"all {MAX_KEY_ID} key ids are used")
    return int(highest) + 1


@dataclass(frozen=True)
class IssuedKey:
    key: KeyInfo
    key_path: str
    superseded: tuple[int, ...] = ()


def _certify(
    db: Database,
    authority: SigningKey,
    *,
    role: str,
    out: Path,
    passphrase: bytes,
    window: tuple[datetime, datetime],
    enterprise_id: int | None = None,
    license_id: int | None = None,
    lab_id: int | None = None,
    action: str,
    details: dict[str, Any],
) -> KeyInfo:
    """Generate, certify, store and write a key valid over ``window`` (:func:`_window`, which
    starts now); call inside the change's transaction."""
    now, not_after = window
    key = generate()
    key_id = _next_key_id(db)
    cert = sign_cert(
        CertFields(key_id=key_id, public_key=key.public_key, role=role,
                   not_before=unix_time(now), not_after=unix_time(not_after),
                   enterprise_id=enterprise_id, license_id=license_id, lab_id=lab_id),
        authority.public_key, authority.sign,
    )
    db.execute(
        "INSERT INTO trust_keys (key_id, role, public_key, enterprise_id, license_id, lab_id, "
        "not_before, not_after, certificate, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [key_id, role, key.public_key, enterprise_id, license_id, lab_id, format_time(now),
         format_time(not_after), cert, format_time(now)],
    )
    audit.record_row_change(db, action=action, table="trust_keys", key=key_id, before=None,
                            details=details)
    # last: a failure here rolls the registry back; the file exists only if the row does
    write_key(out, key, passphrase)
    return get_key(db, key_id)


def issue_licensee_key(
    home: Home,
    db: Database,
    enterprise_ref: str,
    *,
    out: Path,
    authority_passphrase: bytes,
    key_passphrase: bytes,
    valid_until: date | None = None,
    rotate: bool = False,
) -> IssuedKey:
    """Certify a new signing key for an enterprise's current license and write it to ``out``.

    With ``rotate``, the enterprise's keys in use stop signing now (what they signed before
    stays genuine): superseded, or, for a key with a revocation pending, revoked from now with
    that revocation's reason.
    """
    check_new_key_path(out)
    enterprise = get_enterprise(db, enterprise_ref)
    lic = current_license(db, enterprise.id)
    now = utc_now()
    status = effective_status(db, lic.id, now)
    if status != "active":
        raise InvalidState(
            f"license {lic.license_no} of {enterprise.name} is {status}: no key can be issued"
        )
    window = _window(now, valid_until)
    in_use = [key for key in list_keys(db)
              if key.enterprise_id == enterprise.id and key.status_at(now) in ("active",
                                                                               "pending")]
    if rotate and not in_use:
        raise InvalidState(f"{enterprise.name} has no key in use to rotate; use `keys issue`")
    authority = load_authority(home, db, authority_passphrase)
    with transaction(db):
        superseded = []
        if rotate:
            for old in in_use:
                _end_for_rotation(db, old, now)
                superseded.append(old.key_id)
        info = _certify(
            db, authority, role="licensee", out=out, passphrase=key_passphrase, window=window,
            enterprise_id=enterprise.id, license_id=lic.id,
            action="key.rotate" if rotate else "key.issue",
            details={"enterprise_id": enterprise.id, "license_no": lic.license_no},
        )
    return IssuedKey(info, str(out), tuple(superseded))


def _end_for_rotation(db: Database, old: KeyInfo, now: datetime) -> None:
    """End a key in use now, for a rotation (inside its transaction). A pending revocation stays
    a revocation, with its reason, brought forward to now; the audit entry keeps its date."""
    before = audit.snapshot(db, "trust_keys", old.key_id)
    if old.revocation_pending(now):
        kind, reason = "revoked", old.end_reason
        details = {"brought_forward_from": format_time(old.ended_at or now)}
    else:
        kind, reason, details = "superseded", "replaced by a rotation", {}
    db.execute(
        "UPDATE trust_keys SET ended_at = ?, end_kind = ?, end_reason = ?, end_recorded_at = ? "
        "WHERE key_id = ?",
        [format_time(now), kind, reason, format_time(now), old.key_id],
    )
    audit.record_row_change(db, action="key.supersede", table="trust_keys", key=old.key_id,
                            before=before, details=details)


def revoke_key(db: Database, key_id: int, *, reason: str,
               effective_at: datetime | None = None) -> KeyInfo:
    """Revoke a key from ``effective_at`` (default now; may lie in the past, or up to a year
    ahead). A revocation effective now or earlier replaces one still pending."""
    dated = dated_change(reason, effective_at, what="revoke a key", change="a revocation")
    reason, moment, now = dated.reason, dated.effective_at, dated.recorded_at
    with transaction(db):
        key = get_key(db, key_id)
        details: dict[str, Any] = {"reason": reason}
        if key.revocation_pending(now) and moment <= now:
            details["supersedes"] = (f"revocation effective {format_time(key.ended_at or now)}: "
                                     f"{key.end_reason}")
        elif key.end_kind == "revoked":
            raise InvalidState(
                f"key {key_id} is already revoked (effective {format_time(key.ended_at or now)})"
            )
        elif key.ended_at is not None and key.ended_at <= moment:
            raise InvalidState(
                f"key {key_id} was already replaced on {format_time(key.ended_at)}; a revocation "
                "effective later would change nothing"
            )
        before = audit.snapshot(db, "trust_keys", key_id)
        db.execute(
            "UPDATE trust_keys SET ended_at = ?, end_kind = 'revoked', end_reason = ?, "
            "end_recorded_at = ? WHERE key_id = ?",
            [format_time(moment), reason, format_time(now), key_id],
        )
        audit.record_row_change(db, action="key.revoke", table="trust_keys", key=key_id,
                                before=before, details=details)
        return get_key(db, key_id)


def issue_lab_key(
    home: Home,
    db: Database,
    lab_id: int,
    *,
    out: Path,
    authority: SigningKey,
    key_passphrase: bytes,
    valid_until: date | None,
) -> KeyInfo:
    """Certify a testing center's key; call inside the transaction that adds the lab."""
    return _certify(db, authority, role="lab", out=out, passphrase=key_passphrase,
                    window=_window(utc_now(), valid_until), lab_id=lab_id, action="key.issue",
                    details={"lab_id": lab_id})
