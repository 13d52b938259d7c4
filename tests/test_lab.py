"""`jdzhi lab add|endorse`: the testing center's key and batch endorsements, shown by verify."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from conftest import BOTH_BACKENDS, TEST_PASSPHRASE, Invoke
from db_support import count_rows
from trace_support import LICENSE_NO, add_enterprise, issue_key, lines, records, sign

from jdzhi.errors import ExitCode, IntegrityError
from jdzhi.home import Home
from jdzhi.registry.db import open_registry
from jdzhi.trace.endorsements.lab import decode_endorsement, endorsement_payload, serial_ranges
from jdzhi.trace.formats.common import CONTENT_TYPES, external_aad, key_kid
from jdzhi.trace.formats.cose import dumps, sign1
from jdzhi.trace.keys.certified import trusted_keys
from jdzhi.trace.keys.keyfile import load_key
from jdzhi.trace.trust.model import Endorsement, ReleaseResult

LAB = "国家日用陶瓷质量检验检测中心"

pytestmark = BOTH_BACKENDS


@pytest.fixture
def batch(cli: Invoke, initialized: Home, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(SIGNED.jsonl of batch B1, the lab's key file)."""
    monkeypatch.setenv("JDZHI_NOW", "2026-03-10T09:00:00+08:00")
    add_enterprise(cli)
    key = issue_key(cli, tmp_path)
    signed, _ = sign(cli, tmp_path, key, records(4))
    lab_key = tmp_path / "lab.key"
    result = cli("lab", "add", LAB, "--accreditation", "CNAS L0001", "--out", str(lab_key),
                 "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["key_id"] == 2
    assert stat.S_IMODE(lab_key.stat().st_mode) == 0o600
    return signed, lab_key


def _results(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "results.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _endorse(cli: Invoke, tmp_path: Path, lab_key: Path, results: str, *extra: str,
             report: str = "R-2026-001"):  # type: ignore[no-untyped-def]
    return cli("lab", "endorse", LICENSE_NO, "B1", "--results", str(_results(tmp_path, results)),
               "--key", str(lab_key), "--report-no", report, "--json", *extra)


def _endorsements(home: Home) -> int:
    return count_rows(home, "endorsements")


def test_a_passing_batch_shows_in_verification(
    cli: Invoke, initialized: Home, tmp_path: Path, batch: tuple[Path, Path]
) -> None:
    signed, lab_key = batch
    result = _endorse(cli, tmp_path, lab_key, "ware_class,pb,cd\nflat,0.2,0.01\ncups,0.1,0.02\n",
                      "--water-absorption", "0.2", "--thermal-shock-pass", "--whiteness", "72")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["outcome"] == "pass" and data["records"] == 4
    assert data["serial_ranges"] == [[1001, 1004]] and data["standard"] == "GB 4806.4-2016"
    assert data["results"][0] == {"ware_class": "flat", "unit": "mg/dm2", "pb": "0.2",
                                  "cd": "0.01", "pb_limit": "0.8", "cd_limit": "0.07",
                                  "passed": True}
    verdicts = json.loads(cli("verify", str(signed), "--json").stdout)
    assert {v["endorsement"]["status"] for v in verdicts} == {"pass"}
    assert verdicts[0]["endorsement"]["lab"] == LAB
    label = lines(signed)[2]["label"]
    (from_label,) = json.loads(cli("verify", label, "--json").stdout)
    assert from_label["endorsement"]["status"] == "pass"
    assert from_label["endorsement"]["report_no"] == "R-2026-001"
    assert cli("registry", "audit").exit_code == 0


@pytest.mark.parametrize(("results", "extra"), [
    ("ware_class,pb,cd\nflat,0.9,0.01\n", ()),  # lead over the 0.8 mg/dm2 limit
    ("ware_class,pb,cd\ncookware,0.1,0.31\n", ()),  # cadmium over 0.30 mg/L
    ("ware_class,pb,cd\ncups,0.1,0.1\n", ("--thermal-shock-fail",)),
    ("ware_class,pb,cd\ncups,0.1,0.1\n", ("--water-absorption", "0.6")),
])
def test_a_failed_result_never_makes_a_pass(
    cli: Invoke, tmp_path: Path, batch: tuple[Path, Path], results: str,
    extra: tuple[str, ...],
) -> None:
    signed, lab_key = batch
    result = _endorse(cli, tmp_path, lab_key, results, *extra)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outcome"] == "fail"
    verdicts = json.loads(cli("verify", str(signed), "--json").stdout)
    assert {v["endorsement"]["status"] for v in verdicts} == {"fail"}
    assert {v["verdict"] for v in verdicts} == {"genuine"}


def test_stricter_limits_from_a_file(cli: Invoke, tmp_path: Path,
                                     batch: tuple[Path, Path]) -> None:
    _, lab_key = batch
    limits = tmp_path / "limits.json"
    limits.write_text(json.dumps({"standard": "ISO 6486-2:1999",
                                  "limits": {"small-hollow": {"pb": "2.0", "cd": "0.5"},
                                             "cups": {"pb": "0.05", "cd": "0.25"}}}))
    result = _endorse(cli, tmp_path, lab_key, "ware_class,pb,cd\ncups,0.1,0.1\n",
                      "--limits", str(limits))
    data = json.loads(result.stdout)
    assert data["outcome"] == "fail" and data["standard"] == "ISO 6486-2:1999"


def test_a_signed_pass_that_contradicts_its_results_is_refused(
    initialized: Home, batch: tuple[Path, Path]
) -> None:
    _, lab_key = batch
    key = load_key(lab_key, TEST_PASSPHRASE.encode())
    lying = Endorsement(lab_id=1, key_id=2, enterprise_id=1, batch="B1",
                        serial_ranges=((1001, 1004),), outcome="pass",
                        results=(ReleaseResult("flat", "mg/dm2", 900, 10, 800, 70),), optional={},
                        standard="GB 4806.4-2016", report_no="X", tested_at=1773100000,
                        signed_at=1773100000)
    message = sign1(content_type=CONTENT_TYPES["endorsement"], kid=key_kid(2),
                    payload=dumps(endorsement_payload(lying, 500)),
                    external_aad=external_aad("endorsement"), sign=key.sign)
    db = open_registry(initialized)
    try:
        keys = trusted_keys(db)
    finally:
        db.close()
    with pytest.raises(IntegrityError, match="contradicts its own results"):
        decode_endorsement(message, keys)


@pytest.mark.parametrize(("results", "extra", "code", "message"), [
    ("ware_class,pb,cd\nbowls,0.1,0.1\n", (), ExitCode.INVALID_INPUT,
     "row 2: ware class 'bowls' is not one of"),
    ("ware_class,pb,cd\nflat,0.1,0.1\nflat,0.2,0.1\n", (), ExitCode.INVALID_INPUT,
     "row 3: ware class flat appears twice"),
    ("ware_class,pb\nflat,0.1\n", (), ExitCode.INVALID_INPUT, "needs the columns"),
    ("ware_class,pb,cd\nflat,lots,0.1\n", (), ExitCode.INVALID_INPUT, "is not a number"),
    ("ware_class,pb,cd\nflat,-1,0.1\n", (), ExitCode.INVALID_INPUT, "must be a number >= 0"),
    ("ware_class,pb,cd\nflat,0.0001,0.1\n", (), ExitCode.INVALID_INPUT, "more than 3 decimals"),
    ("ware_class,pb,cd\n", (), ExitCode.INVALID_INPUT, "holds no results"),
    ("ware_class,pb,cd\nflat,0.1,0.1\n", ("--tested", "2030-01-01"), ExitCode.INVALID_INPUT,
     "lies in the future"),
])
def test_bad_results_store_nothing(
    cli: Invoke, initialized: Home, tmp_path: Path, batch: tuple[Path, Path], results: str,
    extra: tuple[str, ...], code: ExitCode, message: str,
) -> None:
    _, lab_key = batch
    result = _endorse(cli, tmp_path, lab_key, results, *extra)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert _endorsements(initialized) == 0


def test_endorse_refusals(cli: Invoke, initialized: Home, tmp_path: Path,
                          batch: tuple[Path, Path]) -> None:
    _, lab_key = batch
    good = "ware_class,pb,cd\nflat,0.1,0.01\n"
    assert _endorse(cli, tmp_path, lab_key, good).exit_code == 0
    again = _endorse(cli, tmp_path, lab_key, good)
    assert again.exit_code == ExitCode.CONFLICT and "recorded already" in again.stderr
    no_batch = cli("lab", "endorse", LICENSE_NO, "B9", "--results",
                   str(_results(tmp_path, good)), "--key", str(lab_key), "--report-no", "R2")
    assert no_batch.exit_code == ExitCode.NOT_FOUND
    workshop = tmp_path / "workshop.key"
    licensee = _endorse(cli, tmp_path, workshop, good, report="R3")
    assert licensee.exit_code == ExitCode.INVALID_INPUT and "not a testing-center key" in (
        licensee.stderr)
    bad_report = _endorse(cli, tmp_path, lab_key, good, report="R 4; drop")
    assert bad_report.exit_code == ExitCode.INVALID_INPUT
    duplicate_lab = cli("lab", "add", LAB, "--out", str(tmp_path / "lab2.key"))
    assert duplicate_lab.exit_code == ExitCode.CONFLICT
    assert not (tmp_path / "lab2.key").exists()
    assert _endorsements(initialized) == 1


def test_endorsements_travel_in_the_bundle(cli: Invoke, tmp_path: Path,
                                           batch: tuple[Path, Path],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    signed, lab_key = batch
    assert _endorse(cli, tmp_path, lab_key, "ware_class,pb,cd\nflat,0.1,0.01\n").exit_code == 0
    bundle = tmp_path / "trust.cbor"
    exported = json.loads(cli("trust", "export", "--out", str(bundle), "--json").stdout)
    assert exported["endorsements"] == 1
    monkeypatch.setenv("JDZHI_HOME", str(tmp_path / "nowhere"))
    offline = cli("verify", str(signed), "--trust", str(bundle), "--authority",
                  exported["authority_public_key"], "--json")
    assert {v["endorsement"]["status"] for v in json.loads(offline.stdout)} == {"pass"}


def test_serial_ranges() -> None:
    assert serial_ranges([]) == ()
    assert serial_ranges([5, 1, 2, 3, 9, 10, 3]) == ((1, 3), (5, 5), (9, 10))


def test_an_endorsement_signed_after_its_lab_key_was_revoked_is_ignored(
    cli: Invoke, initialized: Home, tmp_path: Path, batch: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signed, lab_key = batch
    monkeypatch.setenv("JDZHI_NOW", "2026-03-12T09:00:00+08:00")
    assert _endorse(cli, tmp_path, lab_key, "ware_class,pb,cd\nflat,0.1,0.01\n").exit_code == 0
    monkeypatch.setenv("JDZHI_NOW", "2026-03-20T09:00:00+08:00")
    assert cli("keys", "revoke", "2", "--reason", "lab key leaked",
               "--effective", "2026-03-11T00:00:00").exit_code == 0
    result = cli("verify", str(signed), "--json")
    assert "warning: an endorsement failed its checks: signed outside the lab key's validity" in (
        result.stderr)
    assert {v["endorsement"]["status"] for v in json.loads(result.stdout)} == {"none"}
    assert result.exit_code == 0


# --- the limits an endorsement is judged against, coverage of the batch, and re-testing ---------

def _limits(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "limits.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("standard", [None, "GB 4806.4-2016"])
def test_limits_laxer_than_gb_4806_4_must_name_their_standard(
    cli: Invoke, initialized: Home, tmp_path: Path, batch: tuple[Path, Path],
    standard: str | None,
) -> None:
    _, lab_key = batch
    data: dict[str, object] = {"limits": {"cups": {"pb": "0.5", "cd": "0.30"}}}
    if standard is not None:
        data["standard"] = standard
    result = _endorse(cli, tmp_path, lab_key, "ware_class,pb,cd\ncups,0.1,0.1\n",
                      "--limits", str(_limits(tmp_path, data)))
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output
    assert ("the cups Cd limit 0.3 mg/L is less strict than GB 4806.4-2016 (0.25 mg/L): "
            "name the standard it comes from in 'standard'") in result.stderr
    assert _endorsements(initialized) == 0
    # stricter limits need no standard of their own
    stricter = {"limits": {"cups": {"pb": "0.4", "cd": "0.2"}}}
    result = _endorse(cli, tmp_path, lab_key, "ware_class,pb,cd\ncups,0.1,0.1\n",
                      "--limits", str(_limits(tmp_path, stricter)))
    assert result.exit_code == 0, result.output
    data_out = json.loads(result.stdout)
    assert data_out["standard"] == "GB 4806.4-2016"
    assert data_out["results"][0]["cd_limit"] == "0.2"  # the limit judged against is recorded


def test_a_hostile_limits_file_is_a_clean_error(cli: Invoke, initialized: Home, tmp_path: Path,
                                                batch: tuple[Path, Path]) -> None:
    _, lab_key = batch
    limits = tmp_path / "deep.json"
    limits.write_text("[" * 100_000, encoding="utf-8")
    result = _endorse(cli, tmp_path, lab_key, "ware_class,pb,cd\nflat,0.1,0.01\n",
                      "--limits", str(limits))
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output
    assert "is not valid JSON (line 1: nested too deeply)" in result.stderr
    assert _endorsements(initialized) == 0


def test_results_must_cover_every_ware_class_of_the_batch(
    cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JDZHI_NOW", "2026-03-10T09:00:00+08:00")
    add_enterprise(cli)
    key = issue_key(cli, tmp_path)
    rows = [{**row, "ware_class": ware} for row, ware in
            zip(records(3), ("flat", "cups", "cookware"), strict=True)]
    sign(cli, tmp_path, key, rows)
    lab_key = tmp_path / "lab.key"
    assert cli("lab", "add", LAB, "--out", str(lab_key)).exit_code == 0
    partial = _endorse(cli, tmp_path, lab_key, "ware_class,pb,cd\nflat,0.1,0.01\n")
    assert partial.exit_code == ExitCode.INVALID_INPUT, partial.output
    assert "has no results for ware class(es) cookware, cups of batch B1" in partial.stderr
    assert _endorsements(initialized) == 0
    full = _endorse(cli, tmp_path, lab_key,
                    "ware_class,pb,cd\nflat,0.1,0.01\ncups,0.1,0.1\ncookware,0.1,0.1\n")
    assert full.exit_code == 0, full.output


def test_a_fail_after_a_pass_keeps_both_and_says_so(
    cli: Invoke, initialized: Home, tmp_path: Path, batch: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import UTC, datetime

    from jdzhi.trace.endorsements.lab import EndorseResult, endorse_batch

    signed, lab_key = batch
    db = open_registry(initialized)
    try:
        def endorse(results: str, report: str) -> EndorseResult:
            return endorse_batch(
                db, key_file=lab_key, passphrase=TEST_PASSPHRASE.encode(),
                enterprise_ref=LICENSE_NO, batch="B1", results_file=_results(tmp_path, results),
                report_no=report, tested_at=datetime(2026, 3, 9, tzinfo=UTC))

        first = endorse("ware_class,pb,cd\nflat,0.1,0.01\n", "R-1")
        assert first.earlier == () and first.previous_outcome is None
        assert not first.overturns_pass
        monkeypatch.setenv("JDZHI_NOW", "2026-03-11T09:00:00+08:00")
        second = endorse("ware_class,pb,cd\nflat,0.9,0.01\n", "R-2")
    finally:
        db.close()
    assert second.endorsement.outcome == "fail"
    assert [(e.report_no, e.outcome, e.lab) for e in second.earlier] == [("R-1", "pass", LAB)]
    assert second.previous_outcome == "pass" and second.overturns_pass
    assert _endorsements(initialized) == 2
    verdicts = json.loads(cli("verify", str(signed), "--json").stdout)
    assert {v["endorsement"]["status"] for v in verdicts} == {"fail"}
    assert {v["endorsement"]["report_no"] for v in verdicts} == {"R-2"}


def test_lab_push_of_a_report_not_recorded_here_is_not_found(cli: Invoke,
                                                             initialized: Home) -> None:
    result = cli("lab", "push", "R-NONE", "--server", "http://127.0.0.1:9")
    assert result.exit_code == ExitCode.NOT_FOUND, result.output
    assert "no endorsement with report number 'R-NONE' in this home" in result.stderr
