"""The registry's transparency log end to end (real SQLite and PostgreSQL, real keys): exports
sign checkpoints that extend each other, a cut or rewritten log is refused by export and audit,
verifiers keep the newest history they saw, witnesses cosign, and back-dated labels of revoked keys
are revoked."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import BOTH_BACKENDS
from db_support import drop_trigger, raw_database
from hardening_support import NOW, World, build_world, forked_home, ok, run

from jdzhi.errors import ExitCode
from jdzhi.home import Home
from jdzhi.registry.audit import GENESIS_HASH, canonical_json
from jdzhi.registry.uscc import generate
from jdzhi.trace.formats.cose import decode_sign1, loads_canonical
from jdzhi.trace.keys.keyfile import load_key, read_public_key
from jdzhi.trace.tlog.checkpoint import parse_checkpoint
from jdzhi.trace.tlog.merkle import verify_consistency
from jdzhi.trace.tlog.note import parse_note

PASSPHRASE = b"hardening: correct horse battery staple"

pytestmark = BOTH_BACKENDS


@pytest.fixture(name="world")
def world_fixture(tmp_path: Path) -> World:
    return build_world(tmp_path, count=3)


def _payload(bundle: Path) -> dict[str, Any]:
    payload = loads_canonical(decode_sign1(bundle.read_bytes(), what="bundle").payload,
                              what="bundle payload")
    assert isinstance(payload, dict)
    return payload


def _checkpoint(payload: dict[str, Any]) -> Any:
    return parse_checkpoint(parse_note(payload["ckpt"].encode()).text)


def _add_enterprise(world: World, seed: int, name: str) -> None:
    import random

    uscc = generate(random.Random(seed), division_code="360203")
    ok(run(world.home.path, "registry", "add", "--uscc", uscc, "--name", name, "--district",
           "珠山区", "--license-no", f"JDZ-GI-2026-{seed:04d}", "--categories", "qinghua",
           "--valid-from", "2026-01-01", "--valid-to", "2030-12-31"))


def _export(world: World, name: str, *more: str, env: dict[str, str] | None = None) -> Any:
    return run(world.home.path, "trust", "export", "--out", str(world.bundle.parent / name),
               *more, env=env)


def _entries(home: Home) -> list[dict[str, Any]]:
    with raw_database(home) as conn:
        cursor = conn.execute("SELECT * FROM audit_log ORDER BY seq")
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]


def _rewrite_log(home: Home, entries: list[dict[str, Any]]) -> None:
    """Replace the whole audit log, its hash chain recomputed as an attacker would."""
    prev = GENESIS_HASH
    with raw_database(home) as conn:
        drop_trigger(conn, "audit_log_no_delete", "audit_log")
        conn.execute("DELETE FROM audit_log")
        for seq, entry in enumerate(entries, start=1):
            fields = {k: entry[k] for k in ("at", "actor", "action", "entity", "before_digest",
                                            "after_digest", "details")}
            fields.update(seq=seq, prev_hash=prev)
            prev = hashlib.sha256(canonical_json(fields).encode()).hexdigest()
            conn.execute("INSERT INTO audit_log (seq, at, actor, action, entity, before_digest,"
                         " after_digest, details, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
                         [seq, fields["at"], fields["actor"], fields["action"], fields["entity"],
                          fields["before_digest"], fields["after_digest"], fields["details"],
                          fields["prev_hash"], prev])


def test_three_exports_sign_checkpoints_that_extend_each_other(world: World) -> None:
    _add_enterprise(world, 11, "景德镇市甲窑有限公司")
    ok(_export(world, "b.cbor"))
    _add_enterprise(world, 12, "景德镇市乙窑有限公司")
    ok(_export(world, "c.cbor"))
    a, b, c = (_payload(world.bundle.parent / name) for name in ("trust.cbor", "b.cbor", "c.cbor"))
    ca, cb, cc = (_checkpoint(p) for p in (a, b, c))
    assert ca.size < cb.size < cc.size == len(_entries(world.home))
    assert ca.origin == cb.origin == cc.origin and ca.origin.startswith("jdzhi/trace.example.cn/")
    proofs = {proof["m"]: proof for proof in c["cprf"]}
    assert set(proofs) == {ca.size, cb.size} and a["cprf"] == []
    for old in (ca, cb):
        assert verify_consistency(old.size, cc.size, old.root_hash, cc.root_hash,
                                  proofs[old.size]["p"]).ok
    assert not verify_consistency(ca.size, cc.size, cb.root_hash, cc.root_hash,
                                  proofs[ca.size]["p"]).ok
    folder = world.home.keys_dir / "checkpoints"
    assert (folder / "latest.note").read_text() == c["ckpt"]
    assert (folder / f"{cb.size}.note").read_text() == b["ckpt"]
    assert (folder / "leaves").stat().st_size == 32 * cc.size
    assert (folder / "latest.note").stat().st_mode & 0o777 == 0o644
    with raw_database(world.home) as conn:
        sizes = [size for (size,) in conn.execute("SELECT size FROM log_checkpoints")]
    assert sorted(sizes) == [ca.size, cb.size, cc.size]
    ok(run(world.home.path, "registry", "audit"))


def test_a_cut_log_is_refused_by_export_and_audit(world: World) -> None:
    entries = _entries(world.home)
    _rewrite_log(world.home, entries[:-2])
    result = _export(world, "cut.cbor")
    assert result.exit_code == ExitCode.INTEGRITY
    assert f"entries {len(entries) - 1} to {len(entries)} were cut" in result.output
    assert not (world.bundle.parent / "cut.cbor").exists()
    audit = run(world.home.path, "registry", "audit")
    assert audit.exit_code == ExitCode.CHECK_FAILED
    assert "were cut" in audit.output


def test_a_rewritten_log_is_refused_naming_the_first_changed_entry(world: World) -> None:
    entries = _entries(world.home)
    changed = next(i for i, e in enumerate(entries) if e["action"] == "records.sign")
    entries[changed]["actor"] = "someone else"  # a chain still valid after recomputing
    _rewrite_log(world.home, entries)
    result = _export(world, "rewritten.cbor")
    assert result.exit_code == ExitCode.INTEGRITY
    assert f"audit entry {changed + 1} differs" in result.output
    audit = run(world.home.path, "registry", "audit", "--json")
    assert any(f"audit entry {changed + 1} differs" in p
               for p in json.loads(audit.stdout)["problems"])


def test_the_checkpoint_file_is_what_counts_not_the_database(world: World) -> None:
    with raw_database(world.home) as conn:
        conn.execute("DELETE FROM log_checkpoints")  # the attacker clears the table too
    entries = _entries(world.home)
    _rewrite_log(world.home, entries[:-1])
    assert _export(world, "again.cbor").exit_code == ExitCode.INTEGRITY


def _verifier(world: World, tmp_path: Path) -> Any:
    home = tmp_path / "inspector"
    home.mkdir()

    def verify(bundle: str, *more: str) -> Any:
        line = world.lines()[0]["label"]
        return run(home, "verify", line, "--trust", str(world.bundle.parent / bundle),
                   "--authority", world.authority_public_key, *more)
    return verify


@pytest.fixture(name="fork")
def fork_fixture(world: World, tmp_path: Path) -> Iterator[Path]:
    """A copy of the world's home (folder and registry) that will go its own way."""
    with forked_home(world.home, tmp_path / "fork") as home:
        yield home.path


def test_a_verifier_refuses_a_rollback_and_a_second_history(world: World, fork: Path,
                                                            tmp_path: Path) -> None:
    _add_enterprise(world, 21, "景德镇市丙窑有限公司")
    ok(_export(world, "newer.cbor"))
    verify = _verifier(world, tmp_path)
    ok(verify("trust.cbor"))
    ok(verify("newer.cbor"))
    ok(verify("newer.cbor"))
    old = verify("trust.cbor")
    assert old.exit_code == ExitCode.INTEGRITY and "rollback refused" in old.output
    # the same registry, another history of the same length: caught by the root
    import random

    uscc = generate(random.Random(22), division_code="360203")
    ok(run(fork, "registry", "add", "--uscc", uscc, "--name", "景德镇市丁窑有限公司",
           "--district", "珠山区", "--license-no", "JDZ-GI-2026-0022", "--categories",
           "qinghua", "--valid-from", "2026-01-01", "--valid-to", "2030-12-31"))
    ok(run(fork, "trust", "export", "--out", str(world.bundle.parent / "fork.cbor")))
    forked = verify("fork.cbor")
    assert forked.exit_code == ExitCode.INTEGRITY and "two histories" in forked.output


def test_an_unlogged_bundle_is_read_until_a_logged_one_was_seen(world: World,
                                                                tmp_path: Path) -> None:
    from jdzhi.registry.db import open_registry
    from jdzhi.trace.formats.common import CONTENT_TYPES, authority_kid, external_aad
    from jdzhi.trace.formats.cose import dumps, sign1
    from jdzhi.trace.trust.bundle import bundle_payload
    from jdzhi.trace.trust.from_registry import trust_from_registry

    authority = load_key(world.home.authority_key_path, PASSPHRASE)
    db = open_registry(world.home)
    try:
        trust = trust_from_registry(db)
    finally:
        db.close()
    issued = int(datetime.fromisoformat(NOW).timestamp()) - 60  # before the logged export
    payload = bundle_payload(trust, issued_at=issued, expires_at=issued + 86400)
    (world.bundle.parent / "old.cbor").write_bytes(sign1(
        content_type=CONTENT_TYPES["bundle"], kid=authority_kid(authority.public_key),
        payload=dumps(payload), external_aad=external_aad("bundle"), sign=authority.sign))
    verify = _verifier(world, tmp_path)
    unlogged = ok(verify("old.cbor"))
    assert "unlogged" in unlogged.output
    ok(verify("trust.cbor"))
    again = verify("old.cbor")
    assert again.exit_code == ExitCode.INTEGRITY and "rollback" in again.output


def test_a_verifier_can_require_a_witness_cosignature(world: World, tmp_path: Path) -> None:
    lab_key = world.bundle.parent / "lab.key"
    ok(run(world.home.path, "lab", "add", "国家日用陶瓷质量检验检测中心", "--out", str(lab_key)))
    ok(_export(world, "to-witness.cbor"))
    lab_home = tmp_path / "lab-home"
    lab_home.mkdir()
    cosignature = tmp_path / "lab.cosig"
    ok(run(lab_home, "lab", "witness", str(world.bundle.parent / "to-witness.cbor"), "--key",
           str(lab_key), "--authority", world.authority_public_key, "--out", str(cosignature)))
    assert cosignature.read_text().startswith("— jdzhi/lab/")
    ok(_export(world, "witnessed.cbor", "--cosignature", str(cosignature)))
    public = read_public_key(world.authority_public_key)
    assert public  # the witness is named by its lab public key
    lab_public = load_key(lab_key, PASSPHRASE).public_key.hex()
    verify = _verifier(world, tmp_path)
    ok(verify("witnessed.cbor", "--witness", lab_public))
    bare = verify("to-witness.cbor", "--witness", lab_public)
    assert bare.exit_code == ExitCode.INTEGRITY and "not cosigned by witness" in bare.output
    # the log grew since the witness signed: its line is for another checkpoint
    _add_enterprise(world, 31, "景德镇市戊窑有限公司")
    late = _export(world, "late.cbor", "--cosignature", str(cosignature))
    assert late.exit_code != 0 and "grown since" in late.output


def test_a_back_dated_label_of_a_revoked_key_is_revoked(world: World, tmp_path: Path) -> None:
    from jdzhi.trace.formats.labels import Label, LabelFields, decode_label_text

    honest = world.lines()[0]["label"]
    fields = decode_label_text(honest, ("HTTPS://TRACE.EXAMPLE.CN/V/",)).fields
    later = {"JDZHI_NOW": "2026-03-10T10:00:00+08:00"}  # an hour after the batch was signed
    ok(run(world.home.path, "keys", "revoke", str(fields.key_id), "--reason", "stolen",
           env=later))
    thief = load_key(world.key, PASSPHRASE)
    # dated between the honest batch and the revocation: valid but for the log
    back_dated = LabelFields(fields.key_id, 99_999, fields.signed_at + 1800, fields.category)
    forged = Label(back_dated, thief.sign(back_dated.signing_input())).text(
        "HTTPS://TRACE.EXAMPLE.CN/V/")
    for mode in ((), ("--trust", "after.cbor")):
        if mode:
            ok(_export(world, "after.cbor", env=later))
            mode = ("--trust", str(world.bundle.parent / "after.cbor"))
        good = json.loads(ok(run(world.home.path, "verify", honest, *mode, "--json",
                                 env=later)).stdout)
        assert good[0]["verdict"] == "genuine"
        bad = run(world.home.path, "verify", forged, *mode, "--json", env=later)
        assert bad.exit_code != 0
        result = json.loads(bad.stdout)[0]
        assert result["verdict"] == "revoked"
        assert "not logged in time" in result["reasons"][0]
    payload = _payload(world.bundle.parent / "after.cbor")
    assert payload["logged"] == [{"k": fields.key_id, "ser": [[1001, 1003]]}]


def test_a_damaged_memory_file_is_a_clear_error(world: World, tmp_path: Path) -> None:
    verify = _verifier(world, tmp_path)
    ok(verify("trust.cbor"))
    memory = tmp_path / "inspector" / "trust-seen.json"
    entry = next(iter(json.loads(memory.read_text()).values()))
    assert entry["note"].startswith("jdzhi/") and entry["iat"] > 0
    memory.write_text(json.dumps({key: {"iat": "soon"} for key in json.loads(memory.read_text())}))
    damaged = verify("trust.cbor")
    assert damaged.exit_code == ExitCode.INVALID_INPUT and "move it away" in damaged.output


@pytest.mark.parametrize("content", [None, "junk\n", "— jdzhi/lab/77 AAAA\n"])
def test_a_bad_cosignature_file_signs_no_checkpoint(world: World, tmp_path: Path,
                                                    content: str | None) -> None:
    """A missing, malformed or foreign cosignature file is refused before a checkpoint is
    signed: no bundle, no new checkpoint in the database or beside the authority key."""
    cosignature = tmp_path / "lab.cosig"
    if content is not None:
        cosignature.write_text(content, encoding="utf-8")
    _add_enterprise(world, 41, "景德镇市后来陶瓷有限公司")  # the log grew: a new checkpoint is due
    checkpoints = world.home.path / "keys" / "checkpoints"
    files_before = sorted(p.name for p in checkpoints.iterdir())
    with raw_database(world.home) as conn:
        stored_before = conn.execute("SELECT count(*) FROM log_checkpoints").fetchone()
    result = _export(world, "refused.cbor", "--cosignature", str(cosignature))
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert not (world.bundle.parent / "refused.cbor").exists()
    assert sorted(p.name for p in checkpoints.iterdir()) == files_before
    with raw_database(world.home) as conn:
        assert conn.execute("SELECT count(*) FROM log_checkpoints").fetchone() == stored_before
