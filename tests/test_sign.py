"""`jdzhi sign`: every row checked first, all-or-nothing storage, SIGNED.jsonl per the contract."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from conftest import BOTH_BACKENDS, TEST_PASSPHRASE, Invoke
from db_support import count_rows, raw_database, temporary_tables
from hypothesis import given, settings
from hypothesis import strategies as st
from trace_support import LICENSE_NO, add_enterprise, issue_key, lines, records, sign, write_csv

from jdzhi.errors import ExitCode, JdzhiError
from jdzhi.home import Home
from jdzhi.parallel import ChunkRunner, worker_count
from jdzhi.registry.categories import Category
from jdzhi.trace.ed25519 import verify
from jdzhi.trace.formats.labels import DEFAULT_BASE_URL, decode_label_text
from jdzhi.trace.formats.records import RecordFields, base64url, base64url_decode, decode_record
from jdzhi.trace.keys.keyfile import from_seed
from jdzhi.trace.signing._chunks import ChunkRow, SignedChunk, SigningJob, sign_chunk
from jdzhi.trace.signing._rows import RowContext
from jdzhi.trace.signing._staging import StoredRecord

pytestmark = BOTH_BACKENDS

@pytest.fixture
def workshop(cli: Invoke, initialized: Home, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JDZHI_NOW", "2026-03-10T09:00:00+08:00")
    add_enterprise(cli)
    return issue_key(cli, tmp_path)


def _stored(home: Home) -> int:
    return count_rows(home, "signed_records")


def test_sign_writes_the_contract_and_stores_the_batch(
    cli: Invoke, initialized: Home, tmp_path: Path, workshop: Path
) -> None:
    rows = records(3)
    rows[0]["name"] = "青花缠枝莲纹碗"
    out, summary = sign(cli, tmp_path, workshop, rows)
    assert summary["signed"] == 3 and summary["key_id"] == 1
    assert summary["license_no"] == LICENSE_NO and summary["batches"] == ["B1"]
    assert summary["signed_at"] == "2026-03-10T01:00:00Z"
    entries = lines(out)
    assert [entry["serial"] for entry in entries] == ["1001", "1002", "1003"]
    first = entries[0]
    assert first["label"].startswith(DEFAULT_BASE_URL) and len(first["label"]) == 27 + 124
    assert first["enterprise_short_name"] == "青云陶瓷" and first["category"] == "qinghua"
    assert first["name"] == "青花缠枝莲纹碗" and "name" not in entries[1]
    _message, fields = decode_record(base64url_decode(first["record"]))
    assert fields.serial == 1001 and fields.name == "青花缠枝莲纹碗"
    assert _stored(initialized) == 3
    with raw_database(initialized) as db:
        action, after = db.execute(
            "SELECT action, details FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    assert action == "records.sign" and '"batches":["B1"]' in after
    audited = cli("registry", "audit")
    assert audited.exit_code == 0, audited.output
    changed = write_csv(tmp_path / "changed.csv", records(3, batch="B2"))
    human = cli("sign", str(changed), "--key", str(workshop), "--out",
                str(tmp_path / "again.jsonl"))
    assert human.exit_code == ExitCode.CONFLICT  # the same serials with other content


def test_each_record_says_what_its_own_row_says(
    cli: Invoke, initialized: Home, tmp_path: Path, workshop: Path
) -> None:
    # rows that agree in every column but the serial are checked and encoded once (a row
    # context): interleave many contexts, with repeats, and check every record and stored row
    rows = records(60)
    for i, row in enumerate(rows):
        row["batch"] = f"B{i % 3}"
        row["production_date"] = f"2026-02-{1 + i % 4:02d}"
        row["name"] = "青花碗" if i % 2 else ""
        row["ware_class"] = ("flat", "cups", "")[i % 3]
        row["report_no"] = f"R-{i % 5}" if i % 7 else ""
    out, summary = sign(cli, tmp_path, workshop, rows)
    assert summary["signed"] == 60 and summary["batches"] == ["B0", "B1", "B2"]
    entries = lines(out)
    with raw_database(initialized) as db:
        stored = {serial: (batch, day, record) for serial, batch, day, record in db.execute(
            "SELECT serial, batch, production_date, record FROM signed_records")}
    for row, entry, line in zip(rows, entries, out.read_text(encoding="utf-8").splitlines(),
                                strict=True):
        _message, fields = decode_record(base64url_decode(entry["record"]))
        assert (str(fields.serial), fields.batch, fields.production_date.isoformat()) == (
            row["serial"], row["batch"], row["production_date"])
        assert (fields.name, fields.ware_class, fields.report_no) == (
            row["name"] or None, row["ware_class"] or None, row["report_no"] or None)
        assert stored[row["serial"]] == (row["batch"], row["production_date"],
                                         base64url_decode(entry["record"]))
        assert line == json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
    verified = cli("verify", str(out), "--json")
    assert verified.exit_code == 0, verified.output
    assert {result["verdict"] for result in json.loads(verified.stdout)} == {"genuine"}


def test_the_staging_table_goes_with_every_run(initialized: Home, tmp_path: Path,
                                              workshop: Path) -> None:
    # new records wait in a temporary table of the connection while they are signed
    from jdzhi.registry.db import open_registry
    from jdzhi.trace.keys.keyfile import load_key
    from jdzhi.trace.signing.batch import sign_csv

    key = load_key(workshop, TEST_PASSPHRASE.encode())
    db = open_registry(initialized)
    try:
        first = sign_csv(db, write_csv(tmp_path / "a.csv", records(5)), key=key,
                         out=tmp_path / "a.jsonl")
        again = sign_csv(db, write_csv(tmp_path / "b.csv", records(8)), key=key,
                         out=tmp_path / "b.jsonl")
        with pytest.raises(JdzhiError, match="row 3: serial 1001 repeats row 2"):
            sign_csv(db, write_csv(tmp_path / "c.csv", records(1) * 2), key=key,
                     out=tmp_path / "c.jsonl")
        assert temporary_tables(db) == 0
    finally:
        db.close()
    assert (first.count, first.already_signed, again.count, again.already_signed) == (5, 0, 8, 5)
    assert _stored(initialized) == 8 and not (tmp_path / "c.jsonl").exists()
    # the rows signed before are written out again exactly as the first run wrote them
    earlier = (tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()
    assert (tmp_path / "b.jsonl").read_text(encoding="utf-8").splitlines()[:5] == earlier


def test_base_url_precedence(cli: Invoke, tmp_path: Path, workshop: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JDZHI_BASE_URL", "HTTPS://ENV.EXAMPLE.CN/V/")
    out, summary = sign(cli, tmp_path, workshop, records(1), "env.jsonl")
    assert summary["base_url"] == "HTTPS://ENV.EXAMPLE.CN/V/"
    assert lines(out)[0]["label"].startswith("HTTPS://ENV.EXAMPLE.CN/V/")
    source = write_csv(tmp_path / "opt.csv", records(1, start=5))
    result = cli("sign", str(source), "--key", str(workshop), "--out", str(tmp_path / "o.jsonl"),
                 "--base-url", "HTTP://127.0.0.1:8765/V/", "--json")
    assert json.loads(result.stdout)["base_url"] == "HTTP://127.0.0.1:8765/V/"
    bad = cli("sign", str(source), "--key", str(workshop), "--out", str(tmp_path / "b.jsonl"),
              "--base-url", "http://x/")
    assert bad.exit_code == ExitCode.INVALID_INPUT


BAD_ROWS = [
    ({"serial": "0123"}, ExitCode.INVALID_INPUT, "row 3: serial '0123' is not 1 to 12 decimal"),
    ({"serial": "1234567890123"}, ExitCode.INVALID_INPUT, "row 3: serial"),
    ({"serial": "1001"}, ExitCode.INVALID_INPUT, "row 3: serial 1001 repeats row 2"),
    ({"category": "no-such"}, ExitCode.INVALID_INPUT, "row 3: no product category 'no-such'"),
    ({"category": "linglong"}, ExitCode.INVALID_STATE, "does not cover category linglong"),
    ({"production_date": "2026-13-01"}, ExitCode.INVALID_INPUT, "row 3: production_date"),
    ({"production_date": "2026-W10-1"}, ExitCode.INVALID_INPUT, "'2026-W10-1' is not YYYY-MM"),
    ({"production_date": "2026-03-11"}, ExitCode.INVALID_INPUT, "lies in the future"),
    ({"production_date": "2025-12-31"}, ExitCode.INVALID_STATE,
     "license JDZ-GI-2026-0001 was pending on 2025-12-31"),
    ({"batch": ""}, ExitCode.INVALID_INPUT, "row 3: batch is empty"),
    ({"batch": "x" * 65}, ExitCode.INVALID_INPUT, "row 3: batch is longer than 64"),
    ({"batch": "a\x07b"}, ExitCode.INVALID_INPUT, "control character"),
]


@pytest.mark.parametrize(("change", "code", "message"), BAD_ROWS)
def test_one_bad_row_signs_and_stores_nothing(
    cli: Invoke, initialized: Home, tmp_path: Path, workshop: Path,
    change: dict[str, str], code: ExitCode, message: str,
) -> None:
    rows = records(3)
    rows[1].update(change)
    source = write_csv(tmp_path / "bad.csv", rows)
    out = tmp_path / "out.jsonl"
    result = cli("sign", str(source), "--key", str(workshop), "--out", str(out))
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert "nothing was signed" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert _stored(initialized) == 0
    assert list(tmp_path.glob(".*partial")) == []


@pytest.mark.parametrize(("content", "message"), [
    ("serial,batch,category\n1,B,qinghua\n", "lacks the column(s) production_date"),
    ("serial,batch,category,production_date,colour\n", "unknown column(s) colour"),
    ("serial,batch,category,production_date\n", "holds no records"),
    ("serial,batch,category,production_date\n1,B,qinghua,2026-03-01,extra\n",
     "more fields than columns"),
    # a short row's missing values are empty; blank lines are no rows (a row is named by its line)
    ("serial,batch,category,production_date\n\n1,B,qinghua\n",
     "row 3: production_date '' is not YYYY-MM-DD"),
    ("serial,batch,category,production_date\n\n\n", "holds no records"),
])
def test_malformed_csv_files(cli: Invoke, initialized: Home, tmp_path: Path, workshop: Path,
                             content: str, message: str) -> None:
    source = tmp_path / "r.csv"
    source.write_text(content, encoding="utf-8")
    result = cli("sign", str(source), "--key", str(workshop), "--out", str(tmp_path / "o.jsonl"))
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert message in result.stderr
    assert _stored(initialized) == 0


def test_missing_files_and_refused_outputs(cli: Invoke, initialized: Home, tmp_path: Path,
                                           workshop: Path) -> None:
    source = write_csv(tmp_path / "r.csv", records(2))
    missing = cli("sign", str(tmp_path / "none.csv"), "--key", str(workshop), "--out",
                  str(tmp_path / "o.jsonl"))
    assert missing.exit_code == ExitCode.INVALID_INPUT and "does not exist" in missing.stderr
    latin = tmp_path / "latin.csv"
    latin.write_bytes("serial,batch,category,production_date\n1,é,qinghua,2026-03-01\n"
                      .encode("latin-1"))
    assert cli("sign", str(latin), "--key", str(workshop), "--out",
               str(tmp_path / "o.jsonl")).exit_code == ExitCode.INVALID_INPUT
    taken = tmp_path / "taken.jsonl"
    taken.write_text("keep me")
    result = cli("sign", str(source), "--key", str(workshop), "--out", str(taken))
    assert result.exit_code == ExitCode.CONFLICT and taken.read_text() == "keep me"
    no_key = cli("sign", str(source), "--key", str(tmp_path / "none.key"), "--out",
                 str(tmp_path / "o.jsonl"))
    assert no_key.exit_code == ExitCode.KEY_ERROR
    assert _stored(initialized) == 0


def test_wrong_passphrase_and_revoked_key_sign_nothing(
    cli: Invoke, initialized: Home, tmp_path: Path, workshop: Path
) -> None:
    source = write_csv(tmp_path / "r.csv", records(2))
    wrong = tmp_path / "pass.txt"
    wrong.write_text("nope")
    result = cli("sign", str(source), "--key", str(workshop), "--out", str(tmp_path / "o.jsonl"),
                 "--passphrase-file", str(wrong))
    assert result.exit_code == ExitCode.KEY_ERROR and "wrong passphrase" in result.stderr
    assert cli("keys", "revoke", "1", "--reason", "lost").exit_code == 0
    revoked = cli("sign", str(source), "--key", str(workshop), "--out", str(tmp_path / "o.jsonl"))
    assert revoked.exit_code == ExitCode.INVALID_STATE and "is revoked" in revoked.stderr
    assert _stored(initialized) == 0


def test_a_suspended_license_signs_nothing(cli: Invoke, initialized: Home, tmp_path: Path,
                                           workshop: Path) -> None:
    assert cli("registry", "suspend", LICENSE_NO, "--reason", "spot check").exit_code == 0
    source = write_csv(tmp_path / "r.csv", records(2))
    result = cli("sign", str(source), "--key", str(workshop), "--out", str(tmp_path / "o.jsonl"))
    assert result.exit_code == ExitCode.INVALID_STATE
    assert "is suspended now: nothing was signed" in result.stderr


# --- the signing path: worker processes and the SIGNED.jsonl writer ------------------------------

def _fields(count: int) -> list[RecordFields]:
    return [RecordFields(1, 10_000 + i, 1_773_100_000, 1, 1, f"B{i % 3}", "qinghua",
                         date(2026, 3, 1), name="青花" if i % 2 else None) for i in range(count)]


def _job() -> SigningJob:
    return SigningJob.create(
        secret=from_seed(bytes(range(32))).secret, base=DEFAULT_BASE_URL,
        signed_at="2026-03-10T01:00:00Z",
        line_head={"key_id": 1, "enterprise_id": 1, "enterprise": "景德镇市样本陶瓷有限公司",
                   "enterprise_short_name": "样本", "license_no": LICENSE_NO},
        categories=[Category("qinghua", "青花瓷", "Blue-and-white porcelain", 1)],
    )


def _signed_rows(job: SigningJob, rows: list[ChunkRow]) -> SignedChunk:
    """Every row signed in chunks (on workers if JDZHI_WORKERS says so), the chunks joined."""
    with ChunkRunner(sign_chunk, job, expected=len(rows), preload="jdzhi.trace.signing._chunks",
                     parallel=False) as runner:
        for start in range(0, len(rows), runner.chunk_size):
            runner.add(rows[start:start + runner.chunk_size])
        chunks = list(runner.results())
    return SignedChunk([record for chunk in chunks for record in chunk.records],
                       [label for chunk in chunks for label in chunk.labels],
                       b"".join(chunk.lines for chunk in chunks))


def test_worker_processes_sign_exactly_what_one_process_signs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fields = _fields(700)
    job = _job()
    rows: list[ChunkRow] = [
        (str(f.serial), f.serial, RowContext(f, (1, 1, f.batch, "qinghua", "2026-03-01",
                                                 job.signed_at)), None)
        for f in fields]
    # a row an earlier run signed: written again as stored, not signed again
    earlier = sign_chunk(job, rows[:1])
    rows[0] = (*rows[0][:3], StoredRecord(1, earlier.records[0], earlier.labels[0],
                                          "2026-03-09T00:00:00Z"))
    here = _signed_rows(job, rows)
    monkeypatch.setenv("JDZHI_WORKERS", "2")
    assert worker_count(len(fields), parallel=False) == 2
    assert _signed_rows(job, rows) == here
    records, labels, lines = here.records, here.labels, here.lines.decode().splitlines()
    assert len(records) == len(labels) == len(lines) == 700 and records[0] == earlier.records[0]
    assert json.loads(lines[0])["signed_at"] == "2026-03-09T00:00:00Z"
    key = from_seed(bytes(range(32)))
    assert decode_record(records[5])[1] == fields[5]
    assert json.loads(lines[5])["label"] == labels[5] and labels[5].startswith(DEFAULT_BASE_URL)
    assert json.loads(lines[5])["record"] == base64url(records[5])
    assert verify(key.public_key, decode_label_text(labels[5], (DEFAULT_BASE_URL,)).signature,
                  fields[5].label_fields.signing_input())


@given(batch=st.text(min_size=1, max_size=64), name=st.none() | st.text(max_size=200),
       report=st.none() | st.text(max_size=64), label=st.text(max_size=160))
@settings(max_examples=200, deadline=None)
def test_signed_lines_are_exactly_the_compact_json(batch: str, name: str | None,
                                                    report: str | None, label: str) -> None:
    job = _job()
    fields = RecordFields(1, 42, 1_773_100_000, 1, 1, batch, "qinghua", date(2026, 3, 1),
                          name=name, report_no=report)
    entry: dict[str, object] = {
        "serial": "42", "record": "AAEC", "label": label, "key_id": 1, "enterprise_id": 1,
        "enterprise": "景德镇市样本陶瓷有限公司", "enterprise_short_name": "样本",
        "license_no": LICENSE_NO, "category": "qinghua", "category_name_zh": "青花瓷",
        "category_name_en": "Blue-and-white porcelain", "batch": batch,
        "production_date": "2026-03-01", "signed_at": "2026-03-10T01:00:00Z",
    }
    entry.update({key: value for key, value in (("name", name), ("report_no", report))
                  if value is not None})
    tail = job.line_tail(fields, "2026-03-10T01:00:00Z")
    assert job.line("42", bytes([0, 1, 2]), label, tail).decode() == json.dumps(
        entry, ensure_ascii=False, separators=(",", ":")) + "\n"


def test_a_bad_row_late_in_a_parallel_run_signs_and_stores_nothing(
    cli: Invoke, initialized: Home, tmp_path: Path, workshop: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JDZHI_WORKERS", "2")
    rows = records(900)
    rows[880]["production_date"] = "2026-13-01"
    source = write_csv(tmp_path / "late.csv", rows)
    out = tmp_path / "late.jsonl"
    result = cli("sign", str(source), "--key", str(workshop), "--out", str(out))
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output
    assert result.stderr.strip().splitlines() == [
        "error: row 882: production_date '2026-13-01' is not YYYY-MM-DD; nothing was signed"]
    assert not out.exists() and _stored(initialized) == 0
    rows[880]["production_date"] = "2026-03-01"
    parallel, summary = sign(cli, tmp_path, workshop, rows, "parallel.jsonl")
    assert summary["signed"] == 900
    monkeypatch.setenv("JDZHI_WORKERS", "0")
    again, summary = sign(cli, tmp_path, workshop, rows, "again.jsonl")
    assert summary["already_signed"] == 900
    assert again.read_bytes() == parallel.read_bytes()


def test_worker_count_follows_the_batch_size_and_jdzhi_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jdzhi.errors import InvalidInput
    from jdzhi.parallel import MIN_ITEMS_PER_WORKER, usable_cores

    assert worker_count(10 * MIN_ITEMS_PER_WORKER, parallel=False) == 0
    assert worker_count(MIN_ITEMS_PER_WORKER, parallel=True) == 0  # too small to gain
    expected = min(usable_cores(), 10)
    assert worker_count(10 * MIN_ITEMS_PER_WORKER, parallel=True) == (
        expected if expected >= 2 else 0)
    for setting, count in (("0", 0), ("1", 0), ("2", 2), (" 3 ", 3)):
        monkeypatch.setenv("JDZHI_WORKERS", setting)
        assert worker_count(100, parallel=False) == count
        assert worker_count(1, parallel=True) == 0  # one item: nothing to share
    for setting in ("abc", "-1", "65", "²"):
        monkeypatch.setenv("JDZHI_WORKERS", setting)
        with pytest.raises(InvalidInput, match=r"JDZHI_WORKERS=.* must be a number of processes"):
            worker_count(100, parallel=True)
