"""`jdzhi verify` and trace.verification.verifier: every verdict, the time rules, SIGNED.jsonl."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import BOTH_BACKENDS, TEST_PASSPHRASE, Invoke
from trace_support import (
    LICENSE_NO,
    add_enterprise,
    forged_label,
    issue_key,
    lines,
    records,
    sign,
)

from jdzhi.errors import ExitCode
from jdzhi.home import Home
from jdzhi.timeutil import unix_time
from jdzhi.trace.formats.base32 import base32_decode, base32_encode
from jdzhi.trace.formats.labels import DEFAULT_BASE_URL, Label, LabelFields
from jdzhi.trace.formats.records import RecordFields, base64url, sign_record
from jdzhi.trace.keys.keyfile import from_seed, load_key
from jdzhi.trace.verification.result import Verdict
from jdzhi.trace.verification.verifier import (
    load_trust,
    verify_jsonl,
    verify_label_text,
    verify_signed_line,
)

pytestmark = BOTH_BACKENDS

T0 = "2026-03-10T09:00:00+08:00"
T1 = "2026-04-01T09:00:00+08:00"
T2 = "2026-05-01T09:00:00+08:00"


def _verify(cli: Invoke, value: str, *extra: str) -> tuple[int, list[dict[str, Any]]]:
    result = cli("verify", value, "--json", *extra)
    return result.exit_code, json.loads(result.stdout) if result.stdout else []


@pytest.fixture
def workshop(cli: Invoke, initialized: Home, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JDZHI_NOW", T0)
    add_enterprise(cli)
    return issue_key(cli, tmp_path)


def _signed_at(cli: Invoke, tmp_path: Path, key: Path, monkeypatch: pytest.MonkeyPatch,
               when: str, start: int) -> str:
    monkeypatch.setenv("JDZHI_NOW", when)
    out, _ = sign(cli, tmp_path, key, records(1, start=start), f"s{start}.jsonl")
    return str(lines(out)[0]["label"])


def test_genuine_label_json_contract(cli: Invoke, tmp_path: Path, workshop: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    label = _signed_at(cli, tmp_path, workshop, monkeypatch, T0, 1001)
    code, results = _verify(cli, label)
    assert code == 0
    (result,) = results
    assert result["verdict"] == "genuine" and result["serial"] == "1001"
    assert result["enterprise"] == "景德镇市青云陶瓷有限公司"
    assert result["endorsement"] == {"status": "none"}
    assert result["category"] == "qinghua" and result["signed_at"] == "2026-03-10T01:00:00Z"
    assert result["license_no"] == LICENSE_NO and result["key_id"] == 1
    assert isinstance(result["reasons"], list) and "valid signature" in result["reasons"][0]
    human = cli("verify", label)
    assert human.exit_code == 0 and "GENUINE" in human.stdout


def test_license_revoked_later_and_signed_after_revocation(
    cli: Invoke, tmp_path: Path, workshop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _signed_at(cli, tmp_path, workshop, monkeypatch, T0, 1001)
    after = _signed_at(cli, tmp_path, workshop, monkeypatch, T1, 2001)
    monkeypatch.setenv("JDZHI_NOW", T2)
    revoke = cli("registry", "revoke", LICENSE_NO, "--reason", "counterfeit marks",
                 "--effective", "2026-03-20T00:00:00")
    assert revoke.exit_code == 0, revoke.output
    code, (result,) = _verify(cli, before)
    assert code == 0 and result["verdict"] == "genuine"
    assert any("has since been revoked" in reason and "counterfeit marks" in reason
               for reason in result["reasons"])
    code, (result,) = _verify(cli, after)
    assert code == ExitCode.CHECK_FAILED and result["verdict"] == "revoked"
    assert "was revoked effective 2026-03-19T16:00:00Z: counterfeit marks" in result["reasons"][0]


def test_suspended_at_signing_time(cli: Invoke, tmp_path: Path, workshop: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    after = _signed_at(cli, tmp_path, workshop, monkeypatch, T1, 2001)
    monkeypatch.setenv("JDZHI_NOW", T2)
    assert cli("registry", "suspend", LICENSE_NO, "--reason", "spot check failed",
               "--effective", "2026-03-25T00:00:00").exit_code == 0
    code, (result,) = _verify(cli, after)
    assert code == 1 and result["verdict"] == "suspended"
    assert "spot check failed" in result["reasons"][0]


def test_key_revoked_from_a_past_moment(cli: Invoke, tmp_path: Path, workshop: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    before = _signed_at(cli, tmp_path, workshop, monkeypatch, T0, 1001)
    after = _signed_at(cli, tmp_path, workshop, monkeypatch, T1, 2001)
    monkeypatch.setenv("JDZHI_NOW", T2)
    assert cli("keys", "revoke", "1", "--reason", "key leaked",
               "--effective", "2026-03-15T00:00:00").exit_code == 0
    code, (result,) = _verify(cli, after)
    assert result["verdict"] == "revoked" and "after key 1 was revoked" in result["reasons"][0]
    code, (result,) = _verify(cli, before)
    assert code == 0 and result["verdict"] == "genuine"
    assert any("key 1 has since been revoked" in reason for reason in result["reasons"])


def test_expired_unknown_key_tampered_and_malformed(
    cli: Invoke, initialized: Home, tmp_path: Path, workshop: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = load_key(workshop, TEST_PASSPHRASE.encode())
    when = unix_time(datetime(2031, 6, 1, tzinfo=UTC))  # after the license and the key ended

    def label(signer: Any, key_id: int, serial: int, signed_at: int, category: int = 1) -> str:
        fields = LabelFields(key_id, serial, signed_at, category)
        return Label(fields, signer.sign(fields.signing_input())).text(DEFAULT_BASE_URL)

    trust = load_trust(home=initialized)
    now = datetime(2031, 7, 1, tzinfo=UTC)
    assert verify_label_text(label(key, 1, 7, when), trust, now).verdict is Verdict.EXPIRED
    stranger = from_seed(bytes(range(32)))
    unknown = verify_label_text(label(stranger, 77, 7, unix_time(now)), trust, now)
    assert unknown.verdict is Verdict.UNKNOWN_KEY and unknown.enterprise is None
    impostor = verify_label_text(label(stranger, 1, 7, unix_time(now)), trust, now)
    assert impostor.verdict is Verdict.TAMPERED
    uncovered = verify_label_text(label(key, 1, 7, unix_time(now) - 10**8, category=2), trust,
                                  now)
    assert uncovered.verdict is Verdict.UNKNOWN_KEY
    genuine = _signed_at(cli, tmp_path, workshop, monkeypatch, T0, 1001)
    payload = bytearray(base32_decode(genuine[len(DEFAULT_BASE_URL):]))
    payload[7] ^= 0x01  # serial 1001 -> 1000: a valid-looking label whose signature fails
    altered = DEFAULT_BASE_URL + base32_encode(bytes(payload))
    code, (result,) = _verify(cli, altered)
    assert code == 1 and result["verdict"] == "tampered" and result["serial"] == "1000"
    assert result["enterprise"] is None
    for junk in ("HTTPS://EVIL.EXAMPLE.COM/V/" + genuine[len(DEFAULT_BASE_URL):],
                 "HTTPS://TRACE.EXAMPLE.CN/V/HELLO", DEFAULT_BASE_URL + "A" * 500):
        code, (result,) = _verify(cli, junk)
        assert code == 1 and result["verdict"] == "malformed"
        assert result["reasons"][0].startswith("not a jdzhi label")


def test_verify_a_signed_jsonl_file(cli: Invoke, tmp_path: Path, workshop: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = sign(cli, tmp_path, workshop, records(3))
    code, results = _verify(cli, str(out))
    assert code == 0 and [r["verdict"] for r in results] == ["genuine"] * 3
    assert all(r["form"] == "record" and r["batch"] == "B1" for r in results)
    assert results[0]["production_date"] == "2026-03-01"
    entries = lines(out)
    entries[0]["record"], entries[1]["record"] = entries[1]["record"], entries[0]["record"]
    entries[2]["label"] = forged_label(entries[2]["label"])
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join([*map(json.dumps, entries), "not json", "{}"]) + "\n")
    code, results = _verify(cli, str(mixed))
    assert code == ExitCode.CHECK_FAILED
    verdicts = [r["verdict"] for r in results]
    assert verdicts[:2] == ["tampered", "tampered"]
    assert verdicts[2] in ("tampered", "malformed") and verdicts[3:] == ["malformed"] * 2
    assert results[3]["reasons"] == ["line 4: not a JSON object"]


def test_worker_processes_verify_a_file_exactly_as_one_process(
    cli: Invoke, initialized: Home, tmp_path: Path, workshop: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, _ = sign(cli, tmp_path, workshop, records(300))
    entries = lines(out)
    entries[7]["label"] = forged_label(entries[7]["label"])
    entries[250]["record"] = entries[251]["record"]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join([*map(json.dumps, entries), "", "not json"]) + "\n")
    trust = load_trust(home=initialized)
    monkeypatch.setenv("JDZHI_WORKERS", "0")
    here = verify_jsonl(mixed, trust)
    monkeypatch.setenv("JDZHI_WORKERS", "2")
    assert verify_jsonl(mixed, trust) == here
    assert len(here) == 301 and here[-1].reasons == ("line 302: not a JSON object",)
    assert [i for i, result in enumerate(here) if not result.genuine] == [7, 250, 300]


def test_one_verifier_for_a_file_rules_as_a_fresh_one_per_line(
    cli: Invoke, initialized: Home, tmp_path: Path, workshop: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a verifier reuses its ruling for records that share key, signing time and category
    monkeypatch.setenv("JDZHI_NOW", T0)
    early, _ = sign(cli, tmp_path, workshop, records(3), "early.jsonl")
    monkeypatch.setenv("JDZHI_NOW", T1)
    late, _ = sign(cli, tmp_path, workshop, records(3, start=2001), "late.jsonl")
    monkeypatch.setenv("JDZHI_NOW", T2)
    assert cli("keys", "revoke", "1", "--reason", "key leaked",
               "--effective", "2026-03-15T00:00:00").exit_code == 0
    entries = [entry for pair in zip(lines(early), lines(late), strict=True) for entry in pair]
    entries[4]["label"] = forged_label(entries[4]["label"])
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join(map(json.dumps, entries)) + "\n")
    trust = load_trust(home=initialized)
    together = verify_jsonl(mixed, trust)
    alone = [verify_signed_line(line, trust, line_no=number)
             for number, line in enumerate(mixed.read_text().splitlines(), start=1)]
    assert together == alone
    assert [result.verdict for result in together] == [
        Verdict.GENUINE, Verdict.REVOKED, Verdict.GENUINE, Verdict.REVOKED, Verdict.TAMPERED,
        Verdict.REVOKED]
    assert [result.serial for result in together] == ["1001", "2001", "1002", "2002", "1003",
                                                      "2003"]
    assert "key 1 has since been revoked" in together[2].reasons[1]


def test_a_forged_record_with_a_matching_label_is_tampered(
    cli: Invoke, initialized: Home, tmp_path: Path, workshop: Path
) -> None:
    out, _ = sign(cli, tmp_path, workshop, records(1))
    entry = lines(out)[0]
    stranger = from_seed(bytes(range(1, 33)))
    fields = RecordFields(1, 1001, unix_time(datetime(2026, 3, 10, 1, tzinfo=UTC)), 1, 1, "B1",
                          "qinghua", datetime(2026, 3, 1).date())
    forged = sign_record(fields, stranger.sign)
    entry["record"] = base64url(forged.record)
    path = tmp_path / "forged.jsonl"
    path.write_text(json.dumps(entry) + "\n")
    code, (result,) = _verify(cli, str(path))
    assert code == 1 and result["verdict"] == "tampered"


def test_verify_input_errors(cli: Invoke, initialized: Home, tmp_path: Path) -> None:
    missing = cli("verify", str(tmp_path / "none.jsonl"))
    assert missing.exit_code == ExitCode.INVALID_INPUT
    assert "neither a label URL nor an existing SIGNED.jsonl" in missing.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert cli("verify", str(empty)).exit_code == ExitCode.INVALID_INPUT


def test_verify_needs_an_initialized_home_without_a_bundle(cli: Invoke) -> None:
    result = cli("verify", DEFAULT_BASE_URL + "A" * 124)
    assert result.exit_code == ExitCode.NOT_INITIALIZED


def test_a_superseded_key_signing_after_rotation_is_expired(
    cli: Invoke, initialized: Home, tmp_path: Path, workshop: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = _signed_at(cli, tmp_path, workshop, monkeypatch, T0, 1001)
    monkeypatch.setenv("JDZHI_NOW", T1)
    assert cli("keys", "rotate", LICENSE_NO, "--out", str(tmp_path / "new.key")).exit_code == 0
    refused = cli("sign", str(tmp_path / "s1001.jsonl.csv"), "--key", str(workshop), "--out",
                  str(tmp_path / "late.jsonl"))
    assert refused.exit_code == ExitCode.INVALID_STATE and "is superseded" in refused.stderr
    old = load_key(workshop, TEST_PASSPHRASE.encode())
    late = LabelFields(1, 5005, unix_time(datetime(2026, 4, 2, tzinfo=UTC)), 1)
    text = Label(late, old.sign(late.signing_input())).text(DEFAULT_BASE_URL)
    trust = load_trust(home=initialized)
    result = verify_label_text(text, trust, datetime(2026, 4, 3, tzinfo=UTC))
    assert result.verdict is Verdict.EXPIRED and "was replaced" in result.reasons[0]
    assert verify_label_text(before, trust).verdict is Verdict.GENUINE
    new_label = _signed_at(cli, tmp_path, tmp_path / "new.key", monkeypatch, T2, 3001)
    code, (fresh,) = _verify(cli, new_label)
    assert code == 0 and fresh["key_id"] == 2
