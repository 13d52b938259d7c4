"""The scan logs by month on PostgreSQL (revisions 0002 and 0003, jdzhi.trace.scanning.months):
rows moved into month partitions with their ids, a scan landing in its month's partition, a past
month detached whole while the other months' clone checks go on, the clone queries on the serial
index (the page's clients on their primary key), `registry audit` passing after."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from db_support import raw_database
from hardening_support import assert_registry_sound, build_world, home_at, ok, run
from server_support import count, running_server

from jdzhi.errors import ExitCode
from jdzhi.registry.db import Database, connect, integrity_check, migrate, transaction
from jdzhi.registry.migrations import alembic_config
from jdzhi.trace.scanning.months import ensure_months

JANUARY, MARCH = "2026-01-15T08:00:00Z", "2026-03-10T01:00:00Z"  # MARCH: the tests' clock
JINGDEZHEN, BEIJING = "29.27,117.18", "39.90,116.40"


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Database]:
    db = connect(postgres_url)
    try:
        yield db
    finally:
        db.close()


def _at(db: Database, revision: str) -> None:
    """The database as jdzhi made it at ``revision``."""
    from alembic import command

    try:
        with transaction(db):
            db.core.begin()
            command.upgrade(alembic_config(db.core), revision)
    finally:
        db.core.rollback()


def _partition_of(db: Database, table: str, where: str) -> list[str]:
    return [row[0] for row in db.execute(
        f"SELECT tableoid::regclass::text FROM {table} WHERE {where} ORDER BY id")]


def test_revision_0002_moves_the_rows_into_month_partitions_with_their_ids(
        pg: Database) -> None:
    _at(pg, "0001")
    with transaction(pg):
        for at in (JANUARY, MARCH, MARCH, "not a time"):
            pg.execute("INSERT INTO scans (scanned_at, inspector, location, image, verdict, "
                       "reasons) VALUES (?, 'i', '', 'x.png', 'genuine', '[]')", [at])
            pg.execute("INSERT INTO page_scans (scanned_at, location, verdict, label_text, "
                       "reasons) VALUES (?, '', 'genuine', 'L', '[]')", [at])
    assert migrate(pg, explicit=True) == ("0002", "0003")
    for table in ("scans", "page_scans"):
        assert [tuple(row) for row in pg.execute(
            f"SELECT id, tableoid::regclass::text FROM {table} ORDER BY id")] == [
            (1, f"{table}_2026_01"), (2, f"{table}_2026_03"), (3, f"{table}_2026_03"),
            (4, f"{table}_default")]
        (kind,) = pg.execute("SELECT relkind FROM pg_class WHERE relname = ?", [table]).fetchone()
        assert kind == "p"
        with pytest.raises(pg.driver_error, match="append-only"):
            pg.execute(f"DELETE FROM {table} WHERE id = 2")
        with pytest.raises(pg.driver_error, match="append-only"):
            pg.execute(f"UPDATE {table} SET scanned_at = scanned_at WHERE id = 3")
    with transaction(pg):  # the identity goes on after the moved ids
        (new,) = pg.execute("INSERT INTO page_scans (scanned_at, location, verdict, label_text, "
                            "reasons) VALUES (?, '', 'genuine', 'L', '[]') RETURNING id",
                            [MARCH]).fetchone()
    assert new == 5


def _add_client(db: Database, day: str, client: bytes) -> list[tuple[str, ...]]:
    """A page client's row of serial 1001 on ``day``; the day it stored (none: it was there)."""
    with transaction(db):
        return [tuple(row) for row in db.execute(
            "INSERT INTO page_scan_clients (enterprise_id, serial, day, client, scanned_at, "
            "location) VALUES (1, '1001', ?, ?, ?, '') ON CONFLICT DO NOTHING RETURNING day",
            [day, client, MARCH])]


def test_revision_0003_moves_the_page_clients_into_month_partitions(pg: Database) -> None:
    _at(pg, "0002")
    days = ("2026-01-15", "2026-03-01", "2026-03-31", "not a day")
    for number, day in enumerate(days):
        assert _add_client(pg, day, bytes([number]) * 16) == [(day,)]
    assert migrate(pg, explicit=True) == ("0003",)
    assert [tuple(row) for row in pg.execute(
        "SELECT day, client, tableoid::regclass::text FROM page_scan_clients ORDER BY day")] == [
        ("2026-01-15", bytes([0]) * 16, "page_scan_clients_2026_01"),
        ("2026-03-01", bytes([1]) * 16, "page_scan_clients_2026_03"),
        ("2026-03-31", bytes([2]) * 16, "page_scan_clients_2026_03"),
        ("not a day", bytes([3]) * 16, "page_scan_clients_default")]
    (kind,) = pg.execute("SELECT relkind FROM pg_class WHERE relname = 'page_scan_clients'"
                         ).fetchone()
    assert kind == "p"
    # a client still counts once a serial and day; another day of the month is a row of its own
    assert _add_client(pg, "2026-03-01", bytes([1]) * 16) == []
    assert _add_client(pg, "2026-03-02", bytes([1]) * 16) == [("2026-03-02",)]
    assert integrity_check(pg) == []


def test_a_trigger_disabled_on_one_month_is_found(pg: Database) -> None:
    migrate(pg)
    with transaction(pg):
        pg.execute("CREATE TABLE scans_2026_03 PARTITION OF scans "
                   "FOR VALUES FROM ('2026-03') TO ('2026-04')")
    assert integrity_check(pg) == []
    pg.execute("ALTER TABLE scans_2026_03 DISABLE TRIGGER scans_no_delete")
    with transaction(pg):  # a later month's copy of the trigger, enabled, hides nothing
        pg.execute("CREATE TABLE scans_2026_04 PARTITION OF scans "
                   "FOR VALUES FROM ('2026-04') TO ('2026-05')")
    assert integrity_check(pg) == ["trigger scans_no_delete is disabled"]


@pytest.mark.parametrize("query", [
    # trace/scanning/log.py earlier_sightings, server/_scans.py the page scan's and the status
    "SELECT scanned_at, inspector, location, latitude, longitude, image FROM scans "
    "WHERE enterprise_id = 7 AND serial = '1234' ORDER BY scanned_at, id",
    "SELECT count(*), min(scanned_at), max(CASE WHEN verdict = 'suspected-clone' "
    "THEN scanned_at END) FROM scans WHERE enterprise_id = 7 AND serial = '1234'",
    "SELECT scanned_at, reasons FROM scans WHERE enterprise_id = 7 AND serial = '1234' "
    "AND verdict = 'suspected-clone' ORDER BY scanned_at DESC, id DESC LIMIT 1",
])
def test_the_clone_queries_use_the_serial_index_in_every_month(
        pg: Database, query: str) -> None:
    migrate(pg)
    with transaction(pg):
        for month in ("2026-01", "2026-02", "2026-03"):
            for table in ("scans", "page_scans"):
                pg.execute(f"CREATE TABLE {table}_{month.replace('-', '_')} PARTITION OF "
                           f"{table} FOR VALUES FROM ('{month}') TO ('{month[:5]}0"
                           f"{int(month[5:]) + 1}')")
        # 60,000 scans of 20,000 serials over three months
        pg.execute("INSERT INTO scans (scanned_at, inspector, location, image, verdict, "
                   "serial, enterprise_id, reasons) SELECT '2026-0' || (1 + n % 3) || "
                   "'-10T01:00:00Z', 'i', '', 'x', 'genuine', (n % 20000)::text, n % 9, '[]' "
                   "FROM generate_series(1, 60000) n")
        pg.execute("INSERT INTO page_scans (scanned_at, location, verdict, serial, "
                   "enterprise_id, label_text, reasons) SELECT '2026-0' || (1 + n % 3) || "
                   "'-10T01:00:00Z', '', 'genuine', (n % 20000)::text, n % 9, 'L', '[]' "
                   "FROM generate_series(1, 60000) n")
    pg.execute("ANALYZE scans")
    pg.execute("ANALYZE page_scans")
    plan = "\n".join(row[0] for row in pg.execute(f"EXPLAIN {query}"))
    # the default partition, empty, is read whole (nothing to index); every month by its index
    assert [line for line in plan.splitlines()
            if "Seq Scan" in line and "scans_default" not in line] == [], plan
    for month in ("2026_01", "2026_02", "2026_03"):
        assert f"_{month}_enterprise_id_serial_scanned_at_idx" in plan, plan


def test_the_page_clients_query_uses_each_months_primary_key(pg: Database) -> None:
    migrate(pg)
    with transaction(pg):
        for month in (1, 2):  # January to March
            ensure_months(pg, datetime(2026, month, 1, tzinfo=UTC))
        # 60,000 clients of 20,000 serials over three months
        pg.execute("INSERT INTO page_scan_clients (enterprise_id, serial, day, client, "
                   "scanned_at, location) SELECT n % 9, (n % 20000)::text, '2026-0' || "
                   "(1 + n % 3) || '-10', decode(md5(n::text), 'hex'), '2026-0' || (1 + n % 3) "
                   "|| '-10T01:00:00Z', '' FROM generate_series(1, 60000) n")
    pg.execute("ANALYZE page_scan_clients")
    # server/_scans.py, the anonymous clone warning's sightings
    plan = "\n".join(row[0] for row in pg.execute(
        "EXPLAIN SELECT day, client, scanned_at, location, latitude, longitude FROM "
        "page_scan_clients WHERE enterprise_id = 7 AND serial = '1234' AND scanned_at >= "
        "'2026-02-08T01:00:00Z' ORDER BY scanned_at"))
    assert [line for line in plan.splitlines()
            if "Seq Scan" in line and "_default" not in line] == [], plan
    for month in ("2026_01", "2026_02", "2026_03"):
        assert f"page_scan_clients_{month}_pkey" in plan, plan


def _inspector_scans(home: Path, token: str, now: str, label: str,
                     places: list[str]) -> list[str]:
    with running_server(home, "--scan-rate-limit", "0", JDZHI_NOW=now) as server, \
            server.client() as http:
        return [http.post("/api/v1/scans", headers={"authorization": f"Bearer {token}"},
                          json={"label": label, "source": "inspector", "location": place}
                          ).json()["verdict"] for place in places]


def test_a_past_month_is_detached_whole_and_the_other_months_go_on(
        tmp_path: Path, postgres_url: str) -> None:
    world = build_world(tmp_path, count=3, database_url=postgres_url)
    home = world.home.path
    labels = [line["label"] for line in world.lines()]
    token = json.loads(ok(run(home, "inspectors", "add", "insp-01", "--json")).stdout)["token"]
    # January: serial 1001 scanned far apart (a clone); March: serial 1002 likewise
    assert _inspector_scans(home, token, JANUARY, labels[0], [JINGDEZHEN, BEIJING]) == [
        "genuine", "suspected-clone"]
    assert _inspector_scans(home, token, MARCH, labels[1], [JINGDEZHEN, BEIJING]) == [
        "genuine", "suspected-clone"]
    with running_server(home, "--scan-rate-limit", "0") as server, server.client() as http:
        http.post("/api/v1/scans", json={"label": labels[2], "source": "page"})
    with raw_database(home_at(home)) as db:
        assert _partition_of(db, "scans", "true") == ["scans_2026_01"] * 2 + [
            "scans_2026_03"] * 2
        assert _partition_of(db, "page_scans", "true") == ["page_scans_2026_03"]
        made = {row[0] for row in db.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE '%scans_2026%' AND relkind = 'r'")}
        assert db.execute("SELECT tableoid::regclass::text FROM page_scan_clients").fetchall() \
            == [("page_scan_clients_2026_03",)]
        made_for_clients = {row[0] for row in db.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE 'page_scan_clients_2026%' "
            "AND relkind = 'r'")}
    # each writer made its month's partitions and the next month's
    assert made == {f"{table}_2026_{m}" for table in ("scans", "page_scans")
                    for m in ("01", "02", "03", "04")}
    assert made_for_clients == {f"page_scan_clients_2026_{m}" for m in ("01", "02", "03", "04")}

    refused = run(home, "db", "detach-scans", "2026-02")
    assert refused.exit_code == ExitCode.INVALID_INPUT, refused.output
    assert "still in the clone window" in refused.stderr
    detached = ok(run(home, "db", "detach-scans", "2026-01", "--json"))
    assert json.loads(detached.stdout) == {"month": "2026-01", "tables": [
        {"table": "scans", "detached": "scans_2026_01", "rows": 2},
        {"table": "page_scans", "detached": "page_scans_2026_01", "rows": 0},
        {"table": "page_scan_clients", "detached": "page_scan_clients_2026_01", "rows": 0}]}
    again = run(home, "db", "detach-scans", "2026-01")
    assert again.exit_code == ExitCode.NOT_FOUND and again.stderr.startswith("error: ")
    assert count(home, "SELECT count(*) FROM scans") == 2
    assert count(home, "SELECT count(*) FROM scans_2026_01") == 2  # kept, outside the log
    # March's clone checks go on; January's sightings no longer count
    assert _inspector_scans(home, token, MARCH, labels[1], [JINGDEZHEN]) == ["suspected-clone"]
    assert _inspector_scans(home, token, MARCH, labels[0], [JINGDEZHEN]) == ["genuine"]
    with running_server(home) as server, server.client() as http:
        assert http.get("/api/v1/serials/1/1002").json()["suspected_clone"] is True
        assert http.get("/api/v1/serials/1/1001").json()["checks"] == 1
    assert_registry_sound(world)
    with raw_database(home_at(home)) as db:  # the detachment is in the audit log
        assert db.execute("SELECT action, entity FROM audit_log ORDER BY seq DESC "
                          "LIMIT 1").fetchone() == ("scans.detach", "scans:2026-01")


def test_a_sqlite_registry_has_no_month_to_detach(tmp_path: Path) -> None:
    world = build_world(tmp_path, count=1)
    refused = run(world.home.path, "db", "detach-scans", "2026-01")
    assert refused.exit_code == ExitCode.INVALID_STATE, refused.output
    bad = run(world.home.path, "db", "detach-scans", "2026-13")
    assert bad.exit_code == ExitCode.INVALID_INPUT
    assert bad.stderr.strip() == "error: '2026-13' is not a month (YYYY-MM)"
