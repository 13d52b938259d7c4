"""A rogue signing key written straight into the registry database, with the audit chain
recomputed as an attacker would (no authority passphrase, no licensee key): its certificate is
what gives it away, so `registry audit` fails, `trust export` refuses naming it, and no label it
signs verifies genuine, with the registry or with a bundle."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from db_support import raw_database
from hardening_support import World, forked_home, run, world_on_both_backends

from jdzhi.errors import ExitCode
from jdzhi.registry.audit import canonical_json, digest
from jdzhi.registry.db import Database
from jdzhi.timeutil import format_time, from_unix
from jdzhi.trace.formats.certs import CertFields, sign_cert
from jdzhi.trace.formats.labels import DEFAULT_BASE_URL
from jdzhi.trace.formats.records import RecordFields, sign_record
from jdzhi.trace.keys.keyfile import SigningKey, generate

ROGUE_ID = 2
#: 2026-03-10T09:00:00+08:00, the world's clock (hardening_support.NOW)
SIGNED_AT = 1_773_104_400


def _row(conn: Database, table: str, column: str, key: object) -> dict[str, object]:
    cursor = conn.execute(f'SELECT * FROM "{table}" WHERE "{column}" = ?', [key])
    return dict(zip([c[0] for c in cursor.description], cursor.fetchone(), strict=True))


def _forge_entry(conn: Database, *, action: str, entity: str,
                 before: dict[str, object] | None, after: dict[str, object]) -> None:
    """Append an audit entry for a row change, its digests and hash computed as jdzhi would."""
    seq, prev_hash, at = conn.execute(
        "SELECT seq, hash, at FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    fields = {"seq": seq + 1, "at": at, "actor": "registry-staff", "action": action,
              "entity": entity, "before_digest": digest(before), "after_digest": digest(after),
              "details": canonical_json({}), "prev_hash": prev_hash}
    entry_hash = hashlib.sha256(canonical_json(fields).encode()).hexdigest()
    conn.execute("INSERT INTO audit_log (seq, at, actor, action, entity, before_digest, "
                 "after_digest, details, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
                 [*fields.values(), entry_hash])


def _fields(rogue: SigningKey) -> CertFields:
    return CertFields(key_id=ROGUE_ID, public_key=rogue.public_key, role="licensee",
                      not_before=SIGNED_AT - 86_400, not_after=SIGNED_AT + 86_400 * 365,
                      enterprise_id=1, license_id=1)


def _junk(conn: Database, rogue: SigningKey) -> bytes:
    return b"\xd2\x84 certainly a certificate"


def _self_signed(conn: Database, rogue: SigningKey) -> bytes:
    return sign_cert(_fields(rogue), rogue.public_key, rogue.sign)


def _copied(conn: Database, rogue: SigningKey) -> bytes:
    """The authority's genuine certificate of the workshop's key 1."""
    return bytes(conn.execute("SELECT certificate FROM trust_keys WHERE key_id = 1").fetchone()[0])


def _own_authority(conn: Database, rogue: SigningKey) -> bytes:
    """The attacker's own authority key in place of the registry's, certifying the rogue key."""
    (kid,) = conn.execute("SELECT kid FROM authority_keys").fetchone()
    before = _row(conn, "authority_keys", "kid", kid)
    conn.execute("UPDATE authority_keys SET public_key = ?", [rogue.public_key])
    _forge_entry(conn, action="authority.create", entity=f"authority_keys:{kid}", before=before,
                 after=_row(conn, "authority_keys", "kid", kid))
    return _self_signed(conn, rogue)


def _insert_rogue(world: World, certificate: Callable[[Database, SigningKey], bytes]
                  ) -> SigningKey:
    rogue = generate()
    fields = _fields(rogue)
    with raw_database(world.home) as conn:
        cert = certificate(conn, rogue)
        conn.execute(
            "INSERT INTO trust_keys (key_id, role, public_key, enterprise_id, license_id, "
            "not_before, not_after, certificate, issued_at) VALUES (?,?,?,?,?,?,?,?,?)",
            [ROGUE_ID, "licensee", rogue.public_key, 1, 1, _stored(fields.not_before),
             _stored(fields.not_after), cert, _stored(fields.not_before)])
        _forge_entry(conn, action="key.issue", entity=f"trust_keys:{ROGUE_ID}", before=None,
                     after=_row(conn, "trust_keys", "key_id", ROGUE_ID))
    return rogue


def _stored(seconds: int) -> str:
    return format_time(from_unix(seconds))


def _rogue_label(rogue: SigningKey) -> str:
    fields = RecordFields(ROGUE_ID, 777_001, SIGNED_AT, 1, 1, "B1", "qinghua", date(2026, 3, 1))
    return sign_record(fields, rogue.sign).label.text(DEFAULT_BASE_URL)


CERTIFICATES = {"junk": _junk, "self-signed": _self_signed, "copied": _copied,
                "own-authority": _own_authority}


world = world_on_both_backends("rogue", count=2)


@pytest.fixture
def attacked(world: World, tmp_path: Path) -> Iterator[World]:
    """A copy of the module's world for one attack (the attack changes the database)."""
    with forked_home(world.home, tmp_path / "home") as home:
        yield World(home, world.key, world.signed, world.bundle, world.authority_public_key)


def test_the_honest_world_verifies_its_own_labels(world: World) -> None:
    label = world.lines()[0]["label"]
    result = run(world.home.path, "verify", label, "--json")
    assert result.exit_code == 0, result.output
    assert run(world.home.path, "registry", "audit").exit_code == 0


@pytest.mark.parametrize("certificate", CERTIFICATES)
def test_a_rogue_key_row_is_never_trusted(attacked: World, tmp_path: Path,
                                          certificate: str) -> None:
    rogue = _insert_rogue(attacked, CERTIFICATES[certificate])
    home = attacked.home.path
    label = _rogue_label(rogue)

    audit = run(home, "registry", "audit")
    assert audit.exit_code == ExitCode.CHECK_FAILED
    expected = ("differs from" if certificate == "own-authority"
                else f"key {ROGUE_ID}'s certificate")
    assert expected in audit.stdout + audit.stderr

    exported = run(home, "trust", "export", "--out", str(tmp_path / "trust.cbor"))
    assert exported.exit_code == ExitCode.INTEGRITY
    assert expected in exported.stderr
    assert not (tmp_path / "trust.cbor").exists()

    in_registry = run(home, "verify", label, "--json")
    if certificate == "own-authority":  # nothing in that registry is trusted any more
        assert in_registry.exit_code == ExitCode.INTEGRITY, in_registry.output
    else:
        (verdict,) = json.loads(in_registry.stdout)
        assert verdict["verdict"] == "unknown-key"
        assert verdict["reasons"] == [f"key {ROGUE_ID}'s certificate "
                                      f"{verdict['reasons'][0].split('certificate ', 1)[1]}"]
        assert "not trusted" in verdict["reasons"][0]
        # the workshop's own key is still trusted
        assert run(home, "verify", attacked.lines()[0]["label"]).exit_code == 0

    in_bundle = run(home, "verify", label, "--json", "--trust", str(attacked.bundle),
                    "--authority", attacked.authority_public_key)
    (verdict,) = json.loads(in_bundle.stdout)
    assert verdict["verdict"] == "unknown-key"


def test_the_rogue_key_cannot_sign_through_jdzhi(attacked: World, tmp_path: Path) -> None:
    from jdzhi.trace.keys.keyfile import write_key

    rogue = _insert_rogue(attacked, _self_signed)
    key_file = tmp_path / "rogue.key"
    write_key(key_file, rogue, b"hardening: correct horse battery staple")
    source = tmp_path / "more.csv"
    source.write_text("serial,batch,category,production_date\n9001,B9,qinghua,2026-03-01\n",
                      encoding="utf-8")
    result = run(attacked.home.path, "sign", str(source), "--key", str(key_file), "--out",
                 str(tmp_path / "more.jsonl"))
    assert result.exit_code == ExitCode.INTEGRITY
    assert f"key {ROGUE_ID}'s certificate is not signed by the authority" in result.stderr
    assert not (tmp_path / "more.jsonl").exists()


def test_without_the_authority_key_file_nothing_is_trusted(attacked: World) -> None:
    (attacked.home.keys_dir / "authority.pub").unlink()
    result = run(attacked.home.path, "verify", attacked.lines()[0]["label"])
    assert result.exit_code == ExitCode.INTEGRITY
    assert "authority.pub is missing" in result.stderr
    audit = run(attacked.home.path, "registry", "audit")
    assert audit.exit_code == ExitCode.CHECK_FAILED
    assert "authority.pub is missing" in audit.stdout + audit.stderr
