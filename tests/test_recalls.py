"""Item recalls (issue 14, item 3): `jdzhi recall`, the bundle's `rcl`, the verdict `recalled`."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from conftest import BOTH_BACKENDS, Invoke
from db_support import count_rows, raw_database
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from label_support import label_of, qr_image, scan_json, signed_batch
from trace_support import LICENSE_NO, forged_label, lines, records, sign

from jdzhi.errors import ExitCode, InvalidInput
from jdzhi.home import Home
from jdzhi.trace.formats.common import MAX_SERIAL
from jdzhi.trace.recalls.compact import decode_recalls, encode_recalls
from jdzhi.trace.recalls.ranges import format_ranges, merge, parse_serials
from jdzhi.trace.trust.model import ItemRecall

CHECKED_AT = "2026-03-12T10:00:00+08:00"
CLONED = "a cloned serial found on market stalls"


def _json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _verdicts(cli: Invoke, *args: str) -> tuple[int, dict[str, dict[str, Any]]]:
    result = cli("verify", *args, "--json")
    return result.exit_code, {item["serial"]: item for item in json.loads(result.stdout)}


def _recall_rows(home: Home) -> int:
    return count_rows(home, "item_recalls")


# the tests of the registry (those of a signed batch) run on both backends; the pure ones once
@pytest.fixture
def signed(cli: Invoke, initialized: Home, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[dict[str, Any]]]:
    out, entries = signed_batch(cli, tmp_path, monkeypatch, 8)  # serials 1001-1008, batch B1
    monkeypatch.setenv("JDZHI_NOW", CHECKED_AT)
    return out, entries


@BOTH_BACKENDS
def test_recalled_serials_verify_as_recalled_with_the_reason(
        cli: Invoke, signed: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    out, entries = signed
    recall = _json(cli("recall", LICENSE_NO, "--serials", "1003, 1005-1006,1004",
                       "--reason", f"  {CLONED}  ", "--json"))
    assert recall == {"recall_id": 1, "enterprise_id": 1, "enterprise": "景德镇市青云陶瓷有限公司",
                      "batch": None, "serials": "1003-1006", "serial_count": 4, "signed": 4,
                      "reason": CLONED, "effective_at": "2026-03-12T02:00:00Z",
                      "recorded_at": "2026-03-12T02:00:00Z"}
    code, by_serial = _verdicts(cli, str(out))
    assert code == 1
    assert [by_serial[s]["verdict"] for s in sorted(by_serial)] == [
        "genuine", "genuine", "recalled", "recalled", "recalled", "recalled", "genuine",
        "genuine"]
    assert by_serial["1003"]["reasons"][0] == (
        f"line 3: recalled: {CLONED} (this serial, effective 2026-03-12T02:00:00Z)")
    code, label = _verdicts(cli, entries[2]["label"])  # the QR text alone: serial 1003
    assert code == 1 and label["1003"]["verdict"] == "recalled"
    bundle = tmp_path / "trust.cbor"
    assert cli("trust", "export", "--out", str(bundle)).exit_code == 0
    code, offline = _verdicts(cli, str(out), "--trust", str(bundle))
    assert code == 1
    assert {s: v["verdict"] for s, v in offline.items()} == {
        s: v["verdict"] for s, v in by_serial.items()}
    listed = cli("recall", "list", "--json")
    assert _json(listed) == [recall]


@BOTH_BACKENDS
def test_a_batch_recall_covers_pieces_signed_after_it(
        cli: Invoke, signed: tuple[Path, list[dict[str, Any]]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = signed
    recall = _json(cli("recall", LICENSE_NO, "--batch", "B1", "--reason",
                       "lead release above GB 4806.4 in test T-0142", "--json"))
    assert recall["serials"] == "1001-1008" and recall["batch"] == "B1"
    monkeypatch.setenv("JDZHI_NOW", "2026-03-13T10:00:00+08:00")
    key = tmp_path / "workshop.key"
    later, _ = sign(cli, tmp_path, key, records(2, start=2001, batch="B1", day="2026-03-13"),
                    name="later.jsonl")
    other, _ = sign(cli, tmp_path, key, records(1, start=3001, batch="B2", day="2026-03-13"),
                    name="other.jsonl")
    for path in (out, later):
        code, verdicts = _verdicts(cli, str(path))
        assert code == 1 and {v["verdict"] for v in verdicts.values()} == {"recalled"}
        assert all("recalled: lead release" in v["reasons"][0] for v in verdicts.values())
    code, verdicts = _verdicts(cli, str(other))
    assert code == 0 and verdicts["3001"]["verdict"] == "genuine"
    # a bundle resolves the batch to every serial signed in it by then: labels alone are caught
    bundle = tmp_path / "trust.cbor"
    assert cli("trust", "export", "--out", str(bundle)).exit_code == 0
    code, verdicts = _verdicts(cli, lines(later)[1]["label"], "--trust", str(bundle))
    assert code == 1 and verdicts["2002"]["verdict"] == "recalled"


@BOTH_BACKENDS
def test_a_recall_takes_effect_at_its_effective_time(
        cli: Invoke, signed: tuple[Path, list[dict[str, Any]]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = signed
    assert cli("recall", LICENSE_NO, "--serials", "1001", "--reason", "stolen label roll",
               "--effective", "2026-03-20").exit_code == 0
    code, verdicts = _verdicts(cli, str(out))
    assert code == 0 and verdicts["1001"]["verdict"] == "genuine"
    monkeypatch.setenv("JDZHI_NOW", "2026-03-20T00:00:00+08:00")
    code, verdicts = _verdicts(cli, str(out))
    assert code == 1 and verdicts["1001"]["verdict"] == "recalled"
    far = cli("recall", LICENSE_NO, "--serials", "1002", "--reason", "r", "--effective",
              "2027-06-01")
    assert far.exit_code == ExitCode.INVALID_INPUT
    assert "more than a year from now" in far.stderr


@BOTH_BACKENDS
def test_forgeries_and_unknown_keys_keep_their_verdicts(
        cli: Invoke, signed: tuple[Path, list[dict[str, Any]]]) -> None:
    _, entries = signed
    assert cli("recall", LICENSE_NO, "--serials", "1001-1008", "--reason", CLONED).exit_code == 0
    text = entries[0]["label"]
    at = len(text) - 5
    tampered = text[:at] + ("B" if text[at] != "B" else "C") + text[at + 1:]
    code, verdicts = _verdicts(cli, tampered)
    assert code == 1 and verdicts["1001"]["verdict"] in ("tampered", "malformed")
    assert not any("recalled" in reason for reason in verdicts["1001"]["reasons"])


@BOTH_BACKENDS
def test_a_revoked_license_keeps_its_verdict_and_names_the_recall(
        cli: Invoke, signed: tuple[Path, list[dict[str, Any]]]) -> None:
    out, _ = signed
    # found late: the license was revoked before the batch was signed
    assert cli("registry", "revoke", LICENSE_NO, "--reason", "fraud", "--effective",
               "2026-02-01").exit_code == 0
    assert cli("recall", LICENSE_NO, "--serials", "1001", "--reason", CLONED).exit_code == 0
    code, verdicts = _verdicts(cli, str(out))
    assert code == 1 and verdicts["1001"]["verdict"] == verdicts["1002"]["verdict"] == "revoked"
    assert verdicts["1001"]["reasons"][-1].startswith(f"line 1: also recalled: {CLONED}")
    assert not any("recalled" in reason for reason in verdicts["1002"]["reasons"])


@BOTH_BACKENDS
def test_recall_refusals_store_nothing(
        cli: Invoke, signed: tuple[Path, list[dict[str, Any]]], initialized: Home) -> None:
    cases = [
        (("--reason", "r"), ExitCode.INVALID_INPUT, "give either --serials or --batch"),
        (("--serials", "1", "--batch", "B1", "--reason", "r"), ExitCode.INVALID_INPUT,
         "give either --serials or --batch"),
        (("--serials", "0012", "--reason", "r"), ExitCode.INVALID_INPUT, "is not a serial"),
        (("--serials", "20-12", "--reason", "r"), ExitCode.INVALID_INPUT, "runs backwards"),
        (("--serials", "1000000000000", "--reason", "r"), ExitCode.INVALID_INPUT,
         "is not a serial"),
        (("--serials", ",", "--reason", "r"), ExitCode.INVALID_INPUT, "lists no serial"),
        (("--serials", "12", "--reason", "  "), ExitCode.INVALID_INPUT, "a reason is needed"),
        (("--serials", "12", "--reason", "x" * 201), ExitCode.INVALID_INPUT, "longer than 200"),
        (("--batch", "B9", "--reason", "r"), ExitCode.NOT_FOUND, "no signed record in batch"),
    ]
    for args, code, message in cases:
        result = cli("recall", LICENSE_NO, *args)
        assert result.exit_code == code, (args, result.output)
        assert message in result.stderr and result.stderr.count("\n") == 1, args
    unknown = cli("recall", "JDZ-NOPE", "--serials", "1", "--reason", "r")
    assert unknown.exit_code == ExitCode.NOT_FOUND
    assert _recall_rows(initialized) == 0
    assert cli("recall", "list").stderr == "No recalls.\n"


@BOTH_BACKENDS
def test_recalls_are_audited(cli: Invoke, signed: tuple[Path, list[dict[str, Any]]],
                             initialized: Home) -> None:
    assert cli("recall", LICENSE_NO, "--batch", "B1", "--reason", CLONED).exit_code == 0
    with raw_database(initialized) as conn:
        found = conn.execute("SELECT entity, details FROM audit_log "
                             "WHERE action = 'item.recall'").fetchall()
    assert [(entity, json.loads(details)) for entity, details in found] == [
        ("item_recalls:1", {"enterprise_id": 1, "reason": CLONED, "batch": "B1"})]
    assert _json(cli("registry", "audit", "--json"))["ok"] is True
    with raw_database(initialized) as conn:  # a change outside jdzhi is caught
        conn.execute("UPDATE item_recalls SET reason = 'nothing wrong'")
    tampered = cli("registry", "audit", "--json")
    assert tampered.exit_code != 0 and json.loads(tampered.stdout)["ok"] is False


@BOTH_BACKENDS
def test_scan_gives_recalled(cli: Invoke, signed: tuple[Path, list[dict[str, Any]]],
                             tmp_path: Path) -> None:
    _, entries = signed
    assert cli("recall", LICENSE_NO, "--serials", "1002", "--reason", CLONED).exit_code == 0
    photo = tmp_path / "recalled.png"
    label_of(entries[1]).save(photo)
    forged = tmp_path / "forged.png"
    qr_image(forged_label(entries[1]["label"])).save(forged)
    code, results, _ = scan_json(cli, str(photo), str(forged), "--no-log")
    assert code == 1
    assert results[0]["verdict"] == "recalled"
    assert any(CLONED in reason for reason in results[0]["reasons"])
    assert results[1]["verdict"] != "recalled"
    people = cli("scan", str(photo), "--no-log")
    assert "RECALLED" in people.stdout


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(1, MAX_SERIAL), st.integers(0, 5000)), max_size=30))
def test_serial_ranges_round_trip(pairs: list[tuple[int, int]]) -> None:
    ranges = merge((low, min(low + span, MAX_SERIAL)) for low, span in pairs)
    if ranges:
        assert parse_serials(format_ranges(ranges)) == ranges
    recall = ItemRecall(1, 2, ranges, "r", 0, "B1")
    assert decode_recalls(encode_recalls((recall,))) == (recall,)
    for low, high in ranges:
        assert recall.covers(low) and recall.covers(high)
        assert recall.covers(high + 1) == any(lo <= high + 1 <= hi for lo, hi in ranges)


def test_hostile_recall_lists_in_a_bundle_are_refused() -> None:
    for items in ([{"id": 1, "e": 1, "at": 0, "r": "r", "s": [5, 0, 0, 0]}],  # not increasing
                  [{"id": 1, "e": 1, "at": 0, "r": "r", "s": [5]}],
                  [{"id": 1, "e": 1, "at": 0, "r": "r", "s": [MAX_SERIAL, 1]}],
                  [{"id": 1, "e": 1, "at": 0, "r": "r", "s": [1, -1]}], {"x": 1}):
        with pytest.raises((ValueError, TypeError)):
            decode_recalls(items)
    with pytest.raises(InvalidInput):
        parse_serials("1-2-3")


def test_a_large_random_recall_is_found_quickly_enough_to_matter() -> None:
    serials = random.Random(7).sample(range(1, 10_000_000), 100_000)
    recall = ItemRecall(1, 1, merge((s, s) for s in serials), "r", 0)
    assert all(recall.covers(s) for s in serials[:1000])
    assert sum(recall.covers(s) for s in range(1, 20_000)) == sum(
        1 for s in serials if s < 20_000)
