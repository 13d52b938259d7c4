"""jdzhi.inputs: one CSV reader (one row-numbering rule, GB18030 read), one JSON parse (hostile
nesting is malformed JSON, never a crash) and one text check, as every command meets them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TEST_PASSPHRASE, Invoke
from trace_support import add_enterprise, issue_key

from jdzhi.errors import ExitCode, InvalidInput
from jdzhi.home import Home
from jdzhi.inputs import check_text, parse_json, read_csv

#: a comment line, the header, two blank lines, a good row and a bad one: the bad row begins on
#: line 6 of the file, so every reader names it "row 6"
_LAYOUT = "# exported by hand\n{header}\n\n\n{good}\n{bad}\n"


def _layout(path: Path, header: str, good: str, bad: str, encoding: str = "utf-8") -> Path:
    path.write_text(_LAYOUT.format(header=header, good=good, bad=bad), encoding=encoding)
    return path


def test_every_csv_reader_names_a_row_by_its_line(cli: Invoke, initialized: Home,
                                                  tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from jdzhi.similarity.works import read_import_csv
    from jdzhi.trace.endorsements.lab import default_limits, parse_results

    monkeypatch.setenv("JDZHI_NOW", "2026-03-10T09:00:00+08:00")
    add_enterprise(cli)
    key = issue_key(cli, tmp_path)
    records = _layout(tmp_path / "records.csv", "serial,batch,category,production_date",
                      "1001,B1,qinghua,2026-03-01", "1002,B1,qinghua,2026-13-01")
    signed = cli("sign", str(records), "--key", str(key), "--out", str(tmp_path / "o.jsonl"))
    assert signed.exit_code == ExitCode.INVALID_INPUT
    assert "row 6: production_date '2026-13-01' is not YYYY-MM-DD" in signed.stderr
    registry = _layout(
        tmp_path / "registry.csv",
        "uscc,name,district_code,license_no,categories,valid_from,valid_to",
        "914403001922038216,景德镇市样例陶瓷有限公司,360202,JDZ-A-1,qinghua,2025-01-01,2029-12-31",
        "91330000704202479R,景德镇市另一陶瓷有限公司,360100,JDZ-A-2,qinghua,2025-01-01,2029-12-31")
    imported = cli("registry", "import", str(registry))
    assert imported.exit_code == ExitCode.INVALID_INPUT
    assert "row 6: district '360100' is not one of Jingdezhen's" in imported.stderr
    works = _layout(tmp_path / "works.csv", "image,reg_no,title,owner,creation_date",
                    "a.png,国作登字-2024-F-00000001,第一,青云陶瓷,", "b.png,bad,坏号,青云陶瓷,")
    with pytest.raises(InvalidInput, match=r"row 6: registration number 'bad'"):
        read_import_csv(works)
    results = _layout(tmp_path / "results.csv", "ware_class,pb,cd", "flat,0.1,0.01",
                      "bowls,0.1,0.1")
    with pytest.raises(InvalidInput, match=r"row 6: ware class 'bowls'"):
        parse_results(results, default_limits())


def test_read_csv_numbers_rows_by_their_first_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('\n# note\na , b\n1,"two\nlines"\n\n3,x\n', encoding="utf-8")
    table = read_csv(path)
    assert table.header == ("a", "b") and table.encoding == "utf-8"
    assert list(zip(table.numbers, table.rows, strict=True)) == [(4, ["1", "two\nlines"]),
                                                                 (7, ["3", "x"])]
    path.write_text("a,b\n1,2\n3," + "x" * 200_000 + "\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"is not valid CSV \(row 3: field larger than"):
        read_csv(path)


def test_excel_csv_from_chinese_windows_is_read_as_gb18030(
    cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jdzhi.registry.db import open_registry
    from jdzhi.registry.exchange import import_file
    from jdzhi.trace.keys.keyfile import load_key
    from jdzhi.trace.signing.batch import sign_csv

    registry = tmp_path / "gbk.csv"
    registry.write_bytes(
        ("uscc,name,district_code,license_no,categories,valid_from,valid_to\r\n"
         "914403001922038216,景德镇市青云陶瓷有限公司,珠山区,JDZ-A-1,青花,2025-01-01,2029-12-31\r\n"
         ).encode("gb18030"))
    with pytest.raises(UnicodeDecodeError):
        registry.read_bytes().decode("utf-8")
    db = open_registry(initialized)
    try:
        result = import_file(db, registry)
    finally:
        db.close()
    assert result.count == 1 and result.encoding == "gb18030"
    [entry] = json.loads(cli("registry", "list", "--json").stdout)
    assert entry["name"] == "景德镇市青云陶瓷有限公司" and entry["district"] == "珠山区"

    monkeypatch.setenv("JDZHI_NOW", "2026-03-10T09:00:00+08:00")
    add_enterprise(cli)
    key = issue_key(cli, tmp_path)
    records = tmp_path / "records.csv"
    records.write_bytes("serial,batch,category,production_date,name\r\n"
                        "1001,青花一批,qinghua,2026-03-01,青花瓷碗\r\n".encode("gb18030"))
    db = open_registry(initialized)
    try:
        summary = sign_csv(db, records, key=load_key(key, TEST_PASSPHRASE.encode()),
                           out=tmp_path / "signed.jsonl")
    finally:
        db.close()
    assert summary.source_encoding == "gb18030" and summary.batches == ("青花一批",)
    line = json.loads((tmp_path / "signed.jsonl").read_text(encoding="utf-8"))
    assert line["name"] == "青花瓷碗"
    from jdzhi.trace.endorsements.lab import default_limits, parse_results

    results = tmp_path / "results.csv"
    results.write_bytes("ware_class,pb,cd,备注\nflat,0.1,0.01,青花盘\n".encode("gb18030"))
    heard: list[str] = []
    [flat] = parse_results(results, default_limits(), on_encoding=heard.append)
    assert flat.ware_class == "flat" and heard == ["gb18030"]
    # UTF-8 (with Excel's BOM) is read as UTF-8 first
    records.write_bytes("\ufeffserial,batch\n1,青花\n".encode())
    assert read_csv(records).encoding == "utf-8"
    assert read_csv(records).header == ("serial", "batch")


def test_deeply_nested_json_is_malformed_not_a_crash(cli: Invoke, initialized: Home,
                                                     tmp_path: Path) -> None:
    with pytest.raises(json.JSONDecodeError, match="nested too deeply"):
        parse_json("[" * 100_000)
    for name in ("deep.json", "deep.txt"):  # by suffix, and sniffed by its first character
        deep = tmp_path / name
        deep.write_text("[" * 100_000, encoding="utf-8")
        result = cli("registry", "import", str(deep))
        assert result.exit_code == ExitCode.INVALID_INPUT, result.output
        assert "is not valid JSON (line 1: nested too deeply)" in result.stderr
    signed = tmp_path / "hostile.jsonl"
    signed.write_text("[" * 100_000 + "\n", encoding="utf-8")
    verified = cli("verify", str(signed), "--json")
    assert verified.exit_code == 1, verified.output
    assert [v["verdict"] for v in json.loads(verified.stdout)] == ["malformed"]
    labels = cli("label", str(signed), "--out", str(tmp_path / "labels.pdf"))
    assert labels.exit_code == ExitCode.INVALID_INPUT, labels.output
    assert "line 1: not a JSON object" in labels.stderr


@pytest.mark.parametrize("value", ["a\tb", "a\nb", "a\x85b", "a\u2028b", "a\x7fb", "a\x00b"])
def test_one_control_character_rule(value: str) -> None:
    with pytest.raises(InvalidInput, match="title contains a control character"):
        check_text(value, "title", max_length=200)


def test_text_check_keeps_chinese_spacing_and_limits_length() -> None:
    from jdzhi.similarity.works import make_request

    assert check_text("  青花\u3000瓷碗 ", "name", max_length=5) == "青花\u3000瓷碗"
    with pytest.raises(InvalidInput, match="name is longer than 4 characters"):
        check_text("青花\u3000瓷碗", "name", max_length=4)
    # the works check used to refuse the ideographic space Chinese titles use
    request = make_request(Path("x.png"), "国作登字-2024-F-00000001", "青花\u3000缠枝莲",
                           "青云陶瓷", None)
    assert request.title == "青花\u3000缠枝莲"
