"""`jdzhi db copy --to URL`: a home's SQLite registry moved into an empty PostgreSQL database, all
or nothing, every row kept with its id, and the copy passing `registry audit` and its checkpoints.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke
from db_support import raw_database
from label_support import label_of, signed_batch
from test_works import design
from trace_support import LICENSE_NO, add_enterprise

from jdzhi.errors import ExitCode
from jdzhi.home import Home
from jdzhi.registry import db_copy
from jdzhi.registry.db import connect, open_registry
from jdzhi.registry.migrations import HEAD

FIXTURE_HOME = Path(__file__).parent / "fixtures" / "home-79e4c4d"
#: tables every registry has, the same on both sides
TABLES = ("schema_migrations", "home_clock", "audit_log", "categories", "enterprises", "licenses",
          "license_categories", "license_events", "authority_keys", "trace_settings", "labs",
          "trust_keys", "signed_records", "endorsements", "scans", "item_recalls", "works",
          "work_features", "works_state", "inspectors", "published_bundles", "page_scans",
          "page_checks", "page_scan_clients", "log_checkpoints")


def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows in the order of all their columns (bytes as bytes)."""
    db = connect(url)
    try:
        dump = {}
        for table in TABLES:
            cursor = db.execute(f'SELECT * FROM "{table}"')
            width = len(cursor.description)
            order = ", ".join(str(i) for i in range(1, width + 1))
            dump[table] = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                           for row in db.execute(f'SELECT * FROM "{table}" ORDER BY {order}')]
        return dump
    finally:
        db.close()


def _tables(url: str) -> list[str]:
    db = connect(url)
    try:
        return [row[0] for row in db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
    finally:
        db.close()


def _copy(cli: Invoke, url: str) -> dict[str, Any]:
    result = cli("db", "copy", "--to", url, "--json")
    assert result.exit_code == 0, result.output
    copied: dict[str, Any] = json.loads(result.stdout)
    return copied


def _error(result: Any, code: ExitCode) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return str(lines[0])


@pytest.fixture
def old_home(jdzhi_home: Home) -> Home:
    """The home made by jdzhi at 79e4c4d (tests/fixtures/README.md), migrated on opening."""
    shutil.copytree(FIXTURE_HOME, jdzhi_home.path)
    open_registry(jdzhi_home).close()
    return jdzhi_home


@pytest.fixture
def full_home(cli: Invoke, initialized: Home, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> tuple[Home, Path]:
    """A home with every kind of row: signed records, an endorsement, a recall, a work, inspector
    scans (one a suspected clone), an inspector, page scans, a published bundle and two
    checkpoints; (the home, its SIGNED.jsonl)."""
    from jdzhi.server._uploads import publish_bundle

    signed, entries = signed_batch(cli, tmp_path, monkeypatch, 6)
    monkeypatch.setenv("JDZHI_NOW", "2026-03-10T09:00:00+08:00")
    lab_key = tmp_path / "lab.key"
    assert cli("lab", "add", "景德镇陶瓷检测中心", "--out", str(lab_key)).exit_code == 0
    results = tmp_path / "results.csv"
    results.write_text("ware_class,pb,cd\nflat,0.2,0.01\n", encoding="utf-8")
    endorsed = cli("lab", "endorse", LICENSE_NO, "B1", "--results", str(results), "--key",
                   str(lab_key), "--report-no", "R-2026-001")
    assert endorsed.exit_code == 0, endorsed.output
    assert cli("recall", LICENSE_NO, "--serials", "1005-1006", "--reason",
               "cloned labels found").exit_code == 0
    assert cli("works", "register", str(design(tmp_path / "work.png", 3)), "--reg-no",
               "赣作登字-2025-F-00000001", "--title", "青花梅瓶", "--owner",
               "景德镇市青云陶瓷有限公司").exit_code == 0
    bundle = tmp_path / "trust.cbor"
    assert cli("trust", "export", "--out", str(bundle)).exit_code == 0
    assert cli("inspectors", "add", "insp-07").exit_code == 0
    photo = tmp_path / "label.png"
    label_of(entries[0]).save(photo)
    for moment, place in (("2026-03-12T10:00:00+08:00", "29.2689,117.1784"),
                          ("2026-03-12T11:30:00+08:00", "43.8256,87.6168")):
        monkeypatch.setenv("JDZHI_NOW", moment)
        cli("scan", str(photo), "--inspector", "insp-07", "--location", place)
    monkeypatch.setenv("JDZHI_NOW", "2026-03-13T09:00:00+08:00")
    bundle = tmp_path / "trust-2.cbor"
    assert cli("trust", "export", "--out", str(bundle)).exit_code == 0
    db = open_registry(initialized)
    try:
        publish_bundle(db, bundle.read_bytes(), datetime(2026, 3, 13, 2, tzinfo=UTC))
    finally:
        db.close()
    with raw_database(initialized) as raw:
        raw.execute("INSERT INTO page_scans (scanned_at, location, latitude, longitude, verdict, "
                    "enterprise_id, serial, label_text, reasons) VALUES "
                    "('2026-03-13T01:00:00Z', 'Jingdezhen', 29.27, 117.18, 'genuine', 1, "
                    "'1001', 'JDZ1...', '[]')")
        raw.execute("INSERT INTO page_checks VALUES (1, '1001', 1, '2026-03-13T01:00:00Z')")
        raw.execute("INSERT INTO page_scan_clients VALUES (1, '1001', '2026-03-13', ?, "
                    "'2026-03-13T01:00:00Z', 'Jingdezhen', 29.3, 117.2)", [b"\x00\xffclient"])
    monkeypatch.delenv("JDZHI_NOW")
    return initialized, signed


def test_the_79e4c4d_home_is_copied_row_for_row_and_audits_on_postgresql(
        cli: Invoke, old_home: Home, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    source = f"sqlite:///{old_home.db_path}"
    before = _dump(source)
    copied = _copy(cli, postgres_url)
    assert copied["tables"] == {table: len(rows) for table, rows in before.items()}
    assert copied["rows"] == sum(len(rows) for rows in before.values()) > 100
    assert copied["audit"]["ok"] and copied["audit"]["entries"] == len(before["audit_log"])
    assert copied["checkpoints"] == {"ok": True, "verified": 1}
    assert copied["revision"] == HEAD and copied["target"].startswith("postgresql://")
    assert _dump(postgres_url) == before
    assert _dump(source) == before  # the home itself is left as it was
    audited = cli("--db", postgres_url, "registry", "audit", "--json")
    assert audited.exit_code == 0 and json.loads(audited.stdout)["ok"], audited.output
    # new rows continue after the copied ids
    monkeypatch.setenv("JDZHI_DATABASE_URL", postgres_url)
    add_enterprise(cli, license_no="JDZ-GI-2026-0999", seed=99)
    shown = json.loads(cli("registry", "show", "JDZ-GI-2026-0999", "--json").stdout)
    assert shown["id"] == max(row[0] for row in before["enterprises"]) + 1
    assert shown["license_id"] == max(row[0] for row in before["licenses"]) + 1
    assert cli("registry", "audit").exit_code == 0


def test_a_home_with_everything_copies_and_verifies_the_same(
        cli: Invoke, full_home: tuple[Home, Path], postgres_url: str) -> None:
    home, signed = full_home
    source = f"sqlite:///{home.db_path}"
    before = _dump(source)
    assert all(before[table] for table in TABLES), [t for t in TABLES if not before[t]]
    result = cli("db", "copy", "--to", postgres_url)
    assert result.exit_code == 0, result.output
    for table in TABLES:
        assert any(line.split()[:2] == [table, f"{len(before[table]):,}"]
                   for line in result.stdout.splitlines()), (table, result.stdout)
    assert "Registry audit passed on the copy" in result.stdout
    assert "2 checkpoints of the transparency log verified" in " ".join(result.stdout.split())
    assert _dump(postgres_url) == before
    with raw_database(Home(home.path, postgres_url)) as db:  # in its month, detachable later
        for table in ("scans", "page_scans", "page_scan_clients"):
            assert db.execute(f"SELECT DISTINCT tableoid::regclass::text FROM {table}"
                              ).fetchall() == [(f"{table}_2026_03",)]
    on_sqlite = cli("verify", str(signed), "--json")
    on_postgresql = cli("--db", postgres_url, "verify", str(signed), "--json")
    assert on_sqlite.exit_code == on_postgresql.exit_code == ExitCode.CHECK_FAILED  # recalled
    assert json.loads(on_postgresql.stdout) == json.loads(on_sqlite.stdout)
    verdicts = [entry["verdict"] for entry in json.loads(on_sqlite.stdout)]
    assert verdicts.count("genuine") == 4 and len(verdicts) == 6
    again = cli("--db", postgres_url, "registry", "audit")
    assert again.exit_code == 0, again.output
    # a second copy finds the database filled: refused, nothing written
    _error(cli("db", "copy", "--to", postgres_url), ExitCode.CONFLICT)
    assert _dump(postgres_url) == before


def test_copying_streams_in_chunks_with_progress(
        cli: Invoke, old_home: Home, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_copy, "CHUNK_ROWS", 7)
    seen: list[tuple[str, int, int]] = []
    result = db_copy.copy_registry(old_home, postgres_url,
                                   progress=lambda *step: seen.append(step))
    audit_steps = [step for step in seen if step[0] == "audit_log"]
    total = result.tables["audit_log"]
    assert [done for _, done, _ in audit_steps] == [*range(7, total, 7), total]
    assert {size for _, _, size in audit_steps} == {total}
    order = list(result.tables)
    assert order.index("enterprises") < order.index("licenses") < order.index("trust_keys") \
        < order.index("signed_records")
    assert order[-1] == "works_state"


def test_a_database_that_is_not_empty_is_refused_with_nothing_written(
        cli: Invoke, old_home: Home, postgres_url: str) -> None:
    with raw_database(Home(old_home.path, postgres_url)) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
        db.execute("INSERT INTO notes VALUES ('keep me')")
    line = _error(cli("db", "copy", "--to", postgres_url), ExitCode.CONFLICT)
    assert "not empty" in line and "notes" in line
    assert _tables(postgres_url) == ["notes"]


def test_a_copy_that_fails_midway_leaves_the_target_empty(
        cli: Invoke, old_home: Home, postgres_url: str) -> None:
    # SQLite keeps a NUL in text; PostgreSQL refuses it: the copy fails at page_scans, late
    with raw_database(old_home) as db:
        db.execute("INSERT INTO page_scans (scanned_at, location, verdict, label_text, reasons) "
                   "VALUES ('2026-03-13T01:00:00Z', '', 'unreadable', ?, '[]')", ["a\x00b"])
    line = _error(cli("db", "copy", "--to", postgres_url), ExitCode.INTEGRITY)
    assert "the copy failed at table page_scans (rows 1 to 5000 in key order), nothing was " \
        "written" in line and "NUL" in line, line
    assert _tables(postgres_url) == []


def test_a_registry_that_fails_its_audit_is_not_copied(
        cli: Invoke, old_home: Home, postgres_url: str) -> None:
    with raw_database(old_home) as db:
        db.execute("UPDATE enterprises SET name = 'forged' WHERE id = 1")
    line = _error(cli("db", "copy", "--to", postgres_url), ExitCode.INTEGRITY)
    assert "enterprises:1 was changed outside jdzhi" in line
    assert _tables(postgres_url) == []


def test_targets_that_cannot_be_copied_to_are_refused(
        cli: Invoke, old_home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "other.db"
    assert "PostgreSQL" in _error(cli("db", "copy", "--to", f"sqlite:///{target}"),
                                  ExitCode.INVALID_INPUT)
    assert not target.exists()
    assert "malformed" in _error(cli("db", "copy", "--to", "postgresql://host:port:x/db"),
                                 ExitCode.INVALID_INPUT)
    unreachable = "postgresql://jdzhi:s3cret@127.0.0.1:1/jdzhi"
    line = _error(cli("db", "copy", "--to", unreachable), ExitCode.UNREACHABLE)
    assert "s3cret" not in line
    monkeypatch.setenv("JDZHI_DATABASE_URL", unreachable)
    assert "the same database" in _error(cli("db", "copy", "--to", unreachable),
                                         ExitCode.INVALID_INPUT)
