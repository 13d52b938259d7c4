"""Attacks that write the registry database directly, with the audit chain recomputed by the
attacker: what `jdzhi registry audit` must still see."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import BOTH_BACKENDS
from db_support import raw_database
from hardening_support import World, build_world, run

from jdzhi.home import Home
from jdzhi.registry.audit import canonical_json

pytestmark = BOTH_BACKENDS


@pytest.fixture(name="world")
def world_fixture(tmp_path: Path) -> World:
    return build_world(tmp_path, count=5)


def _append_forged_entry(home: Home, *, at: str, action: str, entity: str) -> None:
    """Append an audit entry whose hash the attacker computes as jdzhi would."""
    with raw_database(home) as conn:
        seq, prev_hash = conn.execute(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        fields = {"seq": seq + 1, "at": at, "actor": "attacker", "action": action,
                  "entity": entity, "before_digest": None, "after_digest": None,
                  "details": canonical_json({}), "prev_hash": prev_hash}
        entry_hash = hashlib.sha256(canonical_json(fields).encode()).hexdigest()
        conn.execute("INSERT INTO audit_log (seq, at, actor, action, entity, before_digest, "
                     "after_digest, details, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
                     [*fields.values(), entry_hash])


def _audit(world: World) -> tuple[int, str]:
    result = run(world.home.path, "registry", "audit")
    return result.exit_code, result.stdout + result.stderr


def test_an_honest_registry_passes_its_audit(world: World) -> None:
    code, output = _audit(world)
    assert code == 0, output


def test_a_signed_record_deleted_outside_jdzhi_is_reported(world: World) -> None:
    with raw_database(world.home) as conn:
        conn.execute("DELETE FROM signed_records WHERE serial = '1003'")
    code, output = _audit(world)
    assert code != 0
    assert "signing batch" in output and "deleted or altered outside jdzhi" in output


def test_a_signed_record_altered_outside_jdzhi_is_reported(world: World) -> None:
    with raw_database(world.home) as conn:
        # SQLite's || makes text of two blobs; PostgreSQL's keeps bytes
        byte = "x'00'" if conn.dialect == "sqlite" else "'\\x00'::bytea"
        conn.execute(f"UPDATE signed_records SET record = record || {byte} WHERE serial = '1002'")
    code, output = _audit(world)
    assert code == 1 and "signing batch" in output  # on SQLite even text now: no crash


def test_an_audit_entry_dated_before_its_predecessor_is_reported(world: World) -> None:
    _append_forged_entry(world.home, at="2020-01-01T00:00:00Z", action="key.issue",
                         entity="attacker:1")
    code, output = _audit(world)
    assert code != 0
    assert "before the entry before it" in output
