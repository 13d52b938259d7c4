"""The trust chain's keys: the authority key, and the licensee and lab keys it certifies.

The authority key is created once, at ``jdzhi init``; its public key lives in the registry
(``authority_keys``) and, as PEM, beside the encrypted private key (``keys/authority.pub``). A
certified key gets a key id (1..65535, the id labels carry), a validity window and an
authority-signed certificate; it ends by revocation (with an effective time that may lie in the
past) or when a rotation supersedes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import InvalidInput, InvalidState, KeyUnusable, NotFound
from jdzhi.registry import audit
from jdzhi.registry.db import rows, transaction
from jdzhi.timeutil import CHINA_STANDARD_TIME, format_time, stored_time, utc_now
from jdzhi.trace.formats.certs import CertFields, sign_cert
from jdzhi.trace.formats.common import MAX_KEY_ID, authority_kid, unix_time
from jdzhi.trace.keys.keyfile import SigningKey, check_new_key_path, generate, load_key, write_key

if TYPE_CHECKING:
    import sqlite_utils

    from jdzhi.home import Home

#: default lifetime of a licensee or lab key
DEFAULT_KEY_YEARS = 3


@dataclass(frozen=True)
class AuthorityResult:
    created: bool
    kid: str
    public_key: bytes
    key_path: str


def authority_public_path(home: Home) -> Path:
    return home.keys_dir / "authority.pub"


def ensure_authority(home: Home, db: sqlite_utils.Database,
                     passphrase: bytes | None) -> AuthorityResult:
    """Create the authority key unless the home has one; ``passphrase`` is needed to create it."""
    from jdzhi.trace.keys.keyfile import write_public_key

    key_path = home.authority_key_path
    # checked inside the write transaction, so that of two `jdzhi init` racing on a new home
    # the second finds the key the first made instead of failing on its file
    with transaction(db):
        found = rows(db, "SELECT kid, public_key FROM authority_keys "
                         "ORDER BY created_at DESC LIMIT 1")
        if key_path.exists():
            if not found:
                raise InvalidState(
                    f"{key_path} exists but the registry knows no authority key; restore the "
                    "registry from a backup or move the key file away"
                )
            return AuthorityResult(False, found[0]["kid"], bytes(found[0]["public_key"]),
                                   str(key_path))
        if found:
            raise InvalidState(
                f"the registry has authority key {found[0]['kid']} but {key_path} is missing; "
                "restore the key file from its backup"
            )
        if passphrase is None:
            raise KeyUnusable("a passphrase is needed to create the authority key")
        home.keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = generate()
        kid = authority_kid(key.public_key).hex()
        db.execute("INSERT INTO authority_keys (kid, public_key, created_at) VALUES (?, ?, ?)",
                   [kid, key.public_key, format_time(utc_now())])
        audit.record_row_change(db, action="authority.create", table="authority_keys", key=kid,
                                before=None)
        write_key(key_path, key, passphrase)
    write_public_key(authority_public_path(home), key.public_key)
    return AuthorityResult(True, kid, key.public_key, str(key_path))


def load_authority(home: Home, db: sqlite_utils.Database, passphrase: bytes) -> SigningKey:
    """The authority's private key, checked against the public key the registry holds."""
    from jdzhi.trace.trust.from_registry import authority_public_key

    expected = authority_public_key(db)
    key = load_key(home.authority_key_path, passphrase)
    if key.public_key != expected:
        raise KeyUnusable(f"{home.authority_key_path} is not this registry's authority key")
    return key


@dataclass(frozen=True)
class KeyInfo:
    key_id: int
    role: str
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
    end_kind: str | None
    end_reason: str

    def status_at(self, moment: datetime) -> str:
        if self.ended_at is not None and self.ended_at <= moment:
            return "revoked" if self.end_kind == "revoked" else "superseded"
        if moment > self.not_after:
            return "expired"
        if moment < self.not_before:
            return "pending"
        return "active"

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        from jdzhi.trace.formats.records import base64url

        return {
            "key_id": self.key_id, "role": self.role, "public_key": base64url(self.public_key),
            "status": self.status_at(now or utc_now()),
            "not_before": format_time(self.not_before), "not_after": format_time(self.not_after),
            "issued_at": format_time(self.issued_at), "enterprise_id": self.enterprise_id,
            "enterprise": self.enterprise, "license_no": self.license_no, "lab_id": self.lab_id,
            "lab": self.lab,
            "ended_at": format_time(self.ended_at) if self.ended_at else None,
            "end_kind": self.end_kind, "end_reason": self.end_reason or None,
        }


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


def list_keys(db: sqlite_utils.Database) -> tuple[KeyInfo, ...]:
    return tuple(_key_info(row) for row in rows(db, f"{_KEY_QUERY} ORDER BY k.key_id"))


def get_key(db: sqlite_utils.Database, key_id: int) -> KeyInfo:
    found = rows(db, f"{_KEY_QUERY} WHERE k.key_id = ?", [key_id])
    if not found:
        raise NotFound(f"no certified key with id {key_id} (see `jdzhi keys list`)")
    return _key_info(found[0])


def key_by_public_key(db: sqlite_utils.Database, public_key: bytes) -> KeyInfo:
    found = rows(db, f"{_KEY_QUERY} WHERE k.public_key = ?", [public_key])
    if not found:
        # a damaged key file can still decrypt, to another key: say so beside the usual cause
        raise KeyUnusable("this key was never certified by this registry's authority "
                          "(a key file of another registry, or a damaged one)")
    return _key_info(found[0])


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), CHINA_STANDARD_TIME).astimezone(UTC)


def _window(now: datetime, valid_until: date | None) -> tuple[datetime, datetime]:
    if valid_until is None:
        try:
            not_after = now.replace(year=now.year + DEFAULT_KEY_YEARS)
        except ValueError:  # 29 February
            not_after = now.replace(year=now.year + DEFAULT_KEY_YEARS, day=28)
    else:
        not_after = _end_of_day(valid_until)
    if not_after <= now:
        raise InvalidInput(f"the key would expire ({format_time(not_after)}) before it starts")
    return now, not_after


def _next_key_id(db: sqlite_utils.Database) -> int:
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
    db: sqlite_utils.Database,
    authority: SigningKey,
    *,
    role: str,
    out: Path,
    passphrase: bytes,
    now: datetime,
    not_after: datetime,
    enterprise_id: int | None = None,
    license_id: int | None = None,
    lab_id: int | None = None,
    action: str,
    details: dict[str, Any],
) -> KeyInfo:
    """Generate, certify, store and write a key; call inside the change's transaction."""
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
    db: sqlite_utils.Database,
    enterprise_ref: str,
    *,
    out: Path,
    authority_passphrase: bytes,
    key_passphrase: bytes,
    valid_until: date | None = None,
    rotate: bool = False,
) -> IssuedKey:
    """Certify a new signing key for an enterprise's current license and write it to ``out``.

    With ``rotate``, the enterprise's keys in use are superseded from now on (what they signed
    before stays genuine).
    """
    from jdzhi.registry.enterprises import get_enterprise
    from jdzhi.registry.licenses import current_license, effective_status

    check_new_key_path(out)
    enterprise = get_enterprise(db, enterprise_ref)
    lic = current_license(db, enterprise.id)
    now = utc_now()
    status = effective_status(db, lic.id, now)
    if status != "active":
        raise InvalidState(
            f"license {lic.license_no} of {enterprise.name} is {status}: no key can be issued"
        )
    not_before, not_after = _window(now, valid_until)
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
                before = audit.snapshot(db, "trust_keys", old.key_id)
                db.execute(
                    "UPDATE trust_keys SET ended_at = ?, end_kind = 'superseded', end_reason = ?, "
                    "end_recorded_at = ? WHERE key_id = ?",
                    [format_time(now), "replaced by a rotation", format_time(now), old.key_id],
                )
                audit.record_row_change(db, action="key.supersede", table="trust_keys",
                                        key=old.key_id, before=before)
                superseded.append(old.key_id)
        info = _certify(
            db, authority, role="licensee", out=out, passphrase=key_passphrase, now=not_before,
            not_after=not_after, enterprise_id=enterprise.id, license_id=lic.id,
            action="key.rotate" if rotate else "key.issue",
            details={"enterprise_id": enterprise.id, "license_no": lic.license_no},
        )
    return IssuedKey(info, str(out), tuple(superseded))


def revoke_key(db: sqlite_utils.Database, key_id: int, *, reason: str,
               effective_at: datetime | None = None) -> KeyInfo:
    """Revoke a key from ``effective_at`` (default now; may lie in the past)."""
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidInput("a reason is needed to revoke a key")
    now = utc_now()
    moment = effective_at or now
    with transaction(db):
        key = get_key(db, key_id)
        if key.end_kind == "revoked":
            raise InvalidState(
                f"key {key_id} is already revoked (effective {format_time(key.ended_at or now)})"
            )
        if key.ended_at is not None and key.ended_at <= moment:
            raise InvalidState(
                f"key {key_id} was already replaced on {format_time(key.ended_at)}; a revocation "
                "effective later would change nothing"
            )
        if moment > now + timedelta(days=366):
            raise InvalidInput("a revocation cannot take effect more than a year from now")
        before = audit.snapshot(db, "trust_keys", key_id)
        db.execute(
            "UPDATE trust_keys SET ended_at = ?, end_kind = 'revoked', end_reason = ?, "
            "end_recorded_at = ? WHERE key_id = ?",
            [format_time(moment), reason, format_time(now), key_id],
        )
        audit.record_row_change(db, action="key.revoke", table="trust_keys", key=key_id,
                                before=before, details={"reason": reason})
        return get_key(db, key_id)


def issue_lab_key(
    home: Home,
    db: sqlite_utils.Database,
    lab_id: int,
    *,
    out: Path,
    authority: SigningKey,
    key_passphrase: bytes,
    valid_until: date | None,
) -> KeyInfo:
    """Certify a testing center's key; call inside the transaction that adds the lab."""
    now = utc_now()
    not_before, not_after = _window(now, valid_until)
    return _certify(db, authority, role="lab", out=out, passphrase=key_passphrase,
                    now=not_before, not_after=not_after, lab_id=lab_id, action="key.issue",
                    details={"lab_id": lab_id})


@dataclass(frozen=True)
class HomeSetup:
    """What :func:`initialize_home` found or made."""

    registry_path: str
    registry_created: bool
    applied_migrations: tuple[str, ...]
    authority: AuthorityResult
    base_url: str


def initialize_home(home: Home, passphrase: bytes | None, base_url: str | None, *,
                    simulated_clock: bool = False) -> HomeSetup:
    """``jdzhi init``: the registry, the authority key and the label base, each made only once.

    ``passphrase`` protects a new authority key (it may be None when the key exists already).
    A ``base_url`` other than the stored one is refused rather than silently changed.
    ``simulated_clock`` makes a new home honour ``JDZHI_NOW`` (a demo's home).
    """
    from jdzhi.registry.db import initialize, open_registry
    from jdzhi.trace.formats.labels import check_base_url
    from jdzhi.trace.trust.from_registry import BASE_URL_SETTING, setting

    if base_url is not None:
        check_base_url(base_url)
    if passphrase is None and not home.authority_key_path.exists():
        raise KeyUnusable("a passphrase is needed to create the authority key")
    result = initialize(home, simulated_clock=simulated_clock)
    db = open_registry(home)
    try:
        stored = setting(db, BASE_URL_SETTING)
        if stored is not None and base_url is not None and base_url != stored:
            raise InvalidState(
                f"the registry's label base is {stored}; `jdzhi init` does not change it"
            )
        authority = ensure_authority(home, db, passphrase)
        if stored is None:
            from jdzhi.trace.formats.labels import DEFAULT_BASE_URL

            with transaction(db):
                stored = setting(db, BASE_URL_SETTING)  # again: another init may have set it
                if stored is None:
                    stored = base_url or DEFAULT_BASE_URL
                    db.execute("INSERT INTO trace_settings (name, value) VALUES (?, ?)",
                               [BASE_URL_SETTING, stored])
                    audit.record_row_change(db, action="setting.set", table="trace_settings",
                                            key=BASE_URL_SETTING, before=None)
    finally:
        db.close()
    return HomeSetup(result.path, result.created, result.applied_migrations, authority, stored)
