"""`jdzhi server` under load and under `kill -9`, against a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest
from conftest import BOTH_BACKENDS
from db_support import raw_database
from hardening_support import assert_registry_sound, build_world, csv_text, home_at, ok, run
from server_support import copy_home, count, running_server, start_server

from benchmarks.bench_server import drive

pytestmark = BOTH_BACKENDS

SERIALS = 100


@pytest.mark.slow
def test_fifty_clients_sending_ten_thousand_scans_are_all_stored_and_counted(
        tmp_path: Path) -> None:
    world = build_world(tmp_path, count=SERIALS)
    labels = [line["label"] for line in world.lines()]
    scans = 10_000
    bodies: list[bytes | None] = [
        json.dumps({"label": labels[i % SERIALS], "source": "page"}).encode()
        for i in range(scans)]
    with running_server(world.home.path, "--scan-rate-limit", "0") as server:
        driven = drive(server.url, "POST", "/api/v1/scans", bodies,
                       {"content-type": "application/json"}, concurrency=50)
        assert Counter(driven.statuses) == {200: scans}
        answers = [json.loads(body) for body in driven.answers]
        with server.client() as http:
            status = http.get("/api/v1/serials/1/1001").json()
    assert {a["verdict"] for a in answers} == {"genuine"}
    checks: dict[str, list[int]] = {}
    for answer in answers:
        checks.setdefault(answer["serial"], []).append(answer["checks"])
    # every scan of a serial saw every earlier one: its counts are exactly 1..100
    assert all(sorted(seen) == list(range(1, scans // SERIALS + 1)) for seen in checks.values())
    assert len(checks) == SERIALS
    assert status["checks"] == scans // SERIALS and status["suspected_clone"] is False
    home = world.home.path
    assert count(home, "SELECT count(*) FROM page_scans") == scans
    assert count(home, "SELECT sum(checks) FROM page_checks") == scans
    assert_registry_sound(world)


def test_two_worker_processes_count_every_scan_exactly_once(tmp_path: Path) -> None:
    world = build_world(tmp_path, count=4)
    labels = [line["label"] for line in world.lines()]
    bodies: list[bytes | None] = [json.dumps({"label": labels[i % 4], "source": "page"}).encode()
                                  for i in range(400)]
    with running_server(world.home.path, "--scan-rate-limit", "0", "--workers", "2") as server:
        driven = drive(server.url, "POST", "/api/v1/scans", bodies,
                       {"content-type": "application/json"}, concurrency=20)
    assert Counter(driven.statuses) == {200: 400}
    checks: dict[str, list[int]] = {}
    for body in driven.answers:
        answer = json.loads(body)
        checks.setdefault(answer["serial"], []).append(answer["checks"])
    assert sorted(checks) == ["1001", "1002", "1003", "1004"]
    assert all(sorted(seen) == list(range(1, 101)) for seen in checks.values())


@pytest.mark.slow
def test_kill_9_during_record_uploads_loses_no_acknowledged_upload(tmp_path: Path) -> None:
    world = build_world(tmp_path, count=1)
    workshop = copy_home(world.home.path, tmp_path / "workshop")
    source = tmp_path / "many.csv"
    source.write_text(csv_text(range(10_001, 13_001), batch="K1"), encoding="utf-8")
    signed = tmp_path / "many.jsonl"
    ok(run(workshop, "sign", str(source), "--key", str(world.key), "--out", str(signed)))
    lines = signed.read_text(encoding="utf-8").splitlines()
    uploads = [lines[i:i + 50] for i in range(0, len(lines), 50)]
    acknowledged: list[int] = []
    refused: list[str] = []
    server = start_server(world.home.path)

    def upload_all() -> None:
        with server.client() as http:
            for number, body in enumerate(uploads):
                try:
                    answer = http.post("/api/v1/records", content="\n".join(body),
                                       headers={"content-type": "application/x-ndjson"})
                except httpx.TransportError:
                    return
                if answer.status_code != 200:
                    refused.append(answer.text)
                    return
                acknowledged.append(number)

    uploader = threading.Thread(target=upload_all)
    uploader.start()
    while len(acknowledged) < 10 and uploader.is_alive():
        threading.Event().wait(0.01)
    server.kill()
    uploader.join()
    assert refused == []
    assert 10 <= len(acknowledged) < len(uploads)
    home = world.home.path
    with raw_database(home_at(home)) as db:
        stored = {int(serial) for (serial,) in db.execute(
            "SELECT serial FROM signed_records WHERE batch = 'K1'")}
    for number, body in enumerate(uploads):
        serials = {json.loads(line)["serial"] for line in body}
        held = {s for s in serials if int(s) in stored}
        if number in acknowledged:
            assert held == serials, number  # every acknowledged upload is stored
        else:
            assert held in (set(), serials), number  # nothing half-stored
    assert_registry_sound(world)
    with running_server(home) as restarted, restarted.client() as http:
        answers = [http.post("/api/v1/records", content="\n".join(body),
                             headers={"content-type": "application/x-ndjson"}).json()
                   for body in uploads]
    assert sum(a["stored"] + a["already_stored"] for a in answers) == len(lines)
    assert sum(a["already_stored"] for a in answers) == len(stored)
    assert count(home, "SELECT count(*) FROM signed_records WHERE batch = 'K1'") == len(lines)
    assert_registry_sound(world)


def test_a_registry_locked_by_another_process_holds_up_scans_not_the_server(
        tmp_path: Path) -> None:
    """While another process writes (`jdzhi registry ...`, an upload, another worker), a scan
    waits for it off the event loop: the server keeps answering, and the scan is stored after."""
    world = build_world(tmp_path, count=1)
    scan = {"label": world.lines()[0]["label"], "source": "page"}
    with running_server(world.home.path, "--scan-rate-limit", "0") as server:
        with server.client(timeout=10) as http:
            assert http.post("/api/v1/scans", json=scan).json()["checks"] == 1
            answers: list[httpx.Response] = []

            def post_scan() -> None:
                with server.client() as own:
                    answers.append(own.post("/api/v1/scans", json=scan))

            with raw_database(world.home) as writer:
                writer.begin_write()
                scanning = threading.Thread(target=post_scan)
                scanning.start()
                for _ in range(20):
                    assert http.get("/healthz").status_code == 200
                    assert http.get("/api/v1/openapi.json").status_code == 200
                assert not answers  # it waits for the lock
                writer.execute("ROLLBACK")
            scanning.join()
    assert answers[0].status_code == 200 and answers[0].json()["checks"] == 2
