"""Revocation that reaches everyone in time: an urgent revocation or suspension always goes
through, over a change dated later; changes are dated at most a year ahead; a rotation keeps a
pending revocation and its reason."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke
from trace_support import LICENSE_NO, add_enterprise, issue_key, records, set_now, sign

from jdzhi.errors import ExitCode, InvalidInput
from jdzhi.home import Home
from jdzhi.timeutil import format_time, parse_time
from jdzhi.trace.trust.status import LONGEST_NOTICE, dated_change

NOW = "2026-03-10T09:00:00+08:00"  # 2026-03-10T01:00:00Z


def _ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


def _json(result: Any) -> Any:
    return json.loads(_ok(result).stdout)


def _audit_details(home: Home, action: str) -> list[dict[str, Any]]:
    with sqlite3.connect(home.db_path) as conn:
        found = conn.execute("SELECT details FROM audit_log WHERE action = ? ORDER BY seq",
                             [action]).fetchall()
    return [json.loads(details) for (details,) in found]


@pytest.fixture
def licensed(cli: Invoke, initialized: Home, monkeypatch: pytest.MonkeyPatch) -> Home:
    set_now(monkeypatch, NOW)
    add_enterprise(cli)
    return initialized


# ---------------------------------------------------------------- the rule all changes follow


def test_a_change_has_a_tidy_reason_and_is_dated_now_or_up_to_a_year_ahead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_now(monkeypatch, NOW)
    now = parse_time(NOW)
    dated = dated_change(" key\n stolen\t ", None, what="revoke a key", change="a revocation")
    assert (dated.reason, dated.effective_at, dated.recorded_at) == ("key stolen", now, now)
    past = parse_time("2020-01-01")
    assert dated_change("r", past, what="w", change="c").effective_at == past
    assert dated_change("r", now + LONGEST_NOTICE, what="w", change="c").recorded_at == now
    too_far = now + LONGEST_NOTICE + timedelta(seconds=1)
    with pytest.raises(InvalidInput) as refused:
        dated_change("r", too_far, what="w", change="a recall")
    assert str(refused.value) == (f"a recall cannot take effect more than a year from now "
                                  f"({format_time(too_far)} given)")
    with pytest.raises(InvalidInput, match=r"^a reason is needed to recall items$"):
        dated_change(" \n ", None, what="recall items", change="a recall")
    assert dated_change("x  " * 3, None, what="w", change="c", max_reason_chars=5).reason == "x x x"
    with pytest.raises(InvalidInput, match=r"^the reason is longer than 4 characters$"):
        dated_change("x  " * 3, None, what="w", change="c", max_reason_chars=4)


# ---------------------------------------------------------------- keys


def test_an_urgent_key_revocation_replaces_a_pending_one(
    cli: Invoke, licensed: Home, tmp_path: Path
) -> None:
    issue_key(cli, tmp_path)
    planned = _json(cli("keys", "revoke", "1", "--reason", "workshop closes in June",
                        "--effective", "2026-06-30T00:00:00", "--json"))
    assert planned["status"] == "active" and planned["ended_at"] == "2026-06-29T16:00:00Z"
    urgent = _json(cli("keys", "revoke", "1", "--reason", "key stolen", "--json"))
    assert urgent["status"] == "revoked" and urgent["ended_at"] == "2026-03-10T01:00:00Z"
    assert urgent["end_reason"] == "key stolen"
    # both revocations stay on record, each with its reason
    details = _audit_details(licensed, "key.revoke")
    assert [entry["reason"] for entry in details] == ["workshop closes in June", "key stolen"]
    assert details[1]["supersedes"] == ("revocation effective 2026-06-29T16:00:00Z: "
                                        "workshop closes in June")
    # the revocation in force now is final: a second urgent one is refused
    again = cli("keys", "revoke", "1", "--reason", "again")
    assert again.exit_code == ExitCode.INVALID_STATE and "already revoked" in again.stderr
    assert _ok(cli("registry", "audit"))


def test_a_later_dated_key_revocation_does_not_replace_a_pending_one(
    cli: Invoke, licensed: Home, tmp_path: Path
) -> None:
    issue_key(cli, tmp_path)
    _ok(cli("keys", "revoke", "1", "--reason", "planned", "--effective", "2026-06-30"))
    later = cli("keys", "revoke", "1", "--reason", "other plan", "--effective", "2026-05-01")
    assert later.exit_code == ExitCode.INVALID_STATE and "already revoked" in later.stderr
    too_far = cli("keys", "revoke", "1", "--reason", "x", "--effective", "2027-03-11T09:00:01")
    assert too_far.exit_code == ExitCode.INVALID_INPUT
    assert "more than a year from now" in too_far.stderr


def test_rotation_keeps_a_pending_revocation_and_its_reason(
    cli: Invoke, licensed: Home, tmp_path: Path
) -> None:
    issue_key(cli, tmp_path)
    _ok(cli("keys", "revoke", "1", "--reason", "certificate misuse found in audit",
            "--effective", "2026-06-30T00:00:00"))
    rotated = _json(cli("keys", "rotate", LICENSE_NO, "--out", str(tmp_path / "new.key"),
                        "--json"))
    assert rotated["key_id"] == 2
    keys = {item["key_id"]: item for item in _json(cli("keys", "list", "--json"))}
    # the old key stops signing now, as a rotation promises, and stays a revocation
    assert keys[1]["status"] == "revoked" and keys[1]["end_kind"] == "revoked"
    assert keys[1]["end_reason"] == "certificate misuse found in audit"
    assert keys[1]["ended_at"] == "2026-03-10T01:00:00Z"
    assert keys[2]["status"] == "active"
    assert _audit_details(licensed, "key.supersede") == [
        {"brought_forward_from": "2026-06-29T16:00:00Z"}]


def test_rotation_still_supersedes_a_key_without_a_revocation(
    cli: Invoke, licensed: Home, tmp_path: Path
) -> None:
    issue_key(cli, tmp_path)
    _ok(cli("keys", "rotate", LICENSE_NO, "--out", str(tmp_path / "new.key")))
    old = _json(cli("keys", "list", "--json"))[0]
    assert old["end_kind"] == "superseded" and old["end_reason"] == "replaced by a rotation"


# ---------------------------------------------------------------- licenses


def test_a_license_change_is_dated_at_most_a_year_ahead(cli: Invoke, licensed: Home) -> None:
    far = cli("registry", "suspend", LICENSE_NO, "--reason", "x", "--effective", "2099-01-01")
    assert far.exit_code == ExitCode.INVALID_INPUT
    assert "a suspension cannot take effect more than a year from now" in far.stderr
    revoke = cli("registry", "revoke", LICENSE_NO, "--reason", "x",
                 "--effective", "2027-03-11T09:00:01")
    assert revoke.exit_code == ExitCode.INVALID_INPUT
    history = _json(cli("registry", "show", LICENSE_NO, "--json"))["history"]
    assert [event["action"] for event in history] == ["issue"]
    _ok(cli("registry", "suspend", LICENSE_NO, "--reason", "x",
            "--effective", "2027-03-11T09:00:00"))


@pytest.mark.parametrize("urgent", ["revoke", "suspend"])
def test_an_urgent_license_change_supersedes_a_pending_one(
    cli: Invoke, licensed: Home, monkeypatch: pytest.MonkeyPatch, urgent: str
) -> None:
    _ok(cli("registry", "suspend", LICENSE_NO, "--reason", "planned inspection",
            "--effective", "2026-09-01"))
    change = _json(cli("registry", urgent, LICENSE_NO, "--reason", "counterfeit marks found",
                       "--json"))
    status = {"revoke": "revoked", "suspend": "suspended"}[urgent]
    assert change["status"] == status
    shown = _json(cli("registry", "show", LICENSE_NO, "--json"))
    assert shown["status"] == status and shown["status_reason"] == "counterfeit marks found"
    assert [(event["action"], event["reason"], event.get("superseded", False))
            for event in shown["history"]] == [
        ("issue", "licensed", False), (urgent, "counterfeit marks found", False),
        ("suspend", "planned inspection", True)]
    # the superseded suspension never takes effect, in the registry or in a trust bundle
    set_now(monkeypatch, "2026-10-01T09:00:00+08:00")
    assert _json(cli("registry", "show", LICENSE_NO, "--json"))["status"] == status
    assert _json(cli("registry", "list", "--json"))[0]["status"] == status


def test_after_an_urgent_suspension_the_license_can_be_reinstated(
    cli: Invoke, licensed: Home
) -> None:
    _ok(cli("registry", "revoke", LICENSE_NO, "--reason", "closing", "--effective", "2026-09-01"))
    _ok(cli("registry", "suspend", LICENSE_NO, "--reason", "inspection"))
    _ok(cli("registry", "reinstate", LICENSE_NO, "--reason", "inspection passed"))
    shown = _json(cli("registry", "show", LICENSE_NO, "--json"))
    assert shown["status"] == "active"
    # the planned revocation was superseded: scheduling it again is the registry's decision
    assert [event["action"] for event in shown["history"] if event.get("superseded")] == [
        "revoke"]
    _ok(cli("registry", "revoke", LICENSE_NO, "--reason", "closing", "--effective", "2026-09-01"))
    assert _ok(cli("registry", "audit"))


def test_a_change_dated_later_still_waits_for_a_pending_one(
    cli: Invoke, licensed: Home
) -> None:
    _ok(cli("registry", "suspend", LICENSE_NO, "--reason", "planned", "--effective", "2026-09-01"))
    earlier = cli("registry", "revoke", LICENSE_NO, "--reason", "x", "--effective", "2026-08-01")
    assert earlier.exit_code == ExitCode.INVALID_STATE
    assert "already has a change (suspend) effective at 2026-08-31T16:00:00Z" in earlier.stderr
    reinstate = cli("registry", "reinstate", LICENSE_NO, "--reason", "x")
    assert reinstate.exit_code == ExitCode.INVALID_STATE


def test_verification_follows_the_urgent_revocation(
    cli: Invoke, licensed: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = issue_key(cli, tmp_path)
    signed, _ = sign(cli, tmp_path, key, records(1))
    _ok(cli("registry", "suspend", LICENSE_NO, "--reason", "planned inspection",
            "--effective", "2026-09-01"))
    set_now(monkeypatch, "2026-03-11T09:00:00+08:00")
    _ok(cli("registry", "revoke", LICENSE_NO, "--reason", "counterfeit marks found"))
    bundle = tmp_path / "trust.cbor"
    _ok(cli("trust", "export", "--out", str(bundle), "--valid-days", "365"))
    set_now(monkeypatch, "2026-10-01T09:00:00+08:00")
    for trust in ((), ("--trust", str(bundle))):
        result = _json(cli("verify", str(signed), "--json", *trust))[0]
        assert result["verdict"] == "genuine"
        assert any("has since been revoked" in reason and "counterfeit marks found" in reason
                   for reason in result["reasons"]), result["reasons"]
    late = cli("sign", str(tmp_path / "late.csv"), "--key", str(key), "--out",
               str(tmp_path / "late.jsonl"))
    assert late.exit_code != 0
