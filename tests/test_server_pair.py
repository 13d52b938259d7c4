"""Two `jdzhi server` processes over one PostgreSQL database, hit at once: nothing lost, every
scan seen by both, a clone seen half on each flagged, a serial stored once, the audit chain
whole. Real servers on 127.0.0.1, a real PostgreSQL (the front ends are stateless: the
database keeps the order)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from hardening_support import assert_registry_sound, build_world, csv_text, ok, run
from server_support import RunningServer, copy_home, count, running_server

from benchmarks.bench_server import Driven, drive

SERIALS = 20
SCANS = 2_000
#: every tenth scan is an inspector's
INSPECTOR_EVERY = 10
JSON = {"content-type": "application/json"}


def _bodies(labels: list[str], first: int, step: int) -> list[bytes | None]:
    """Scans ``first, first + step, ...`` of the load: serial ``i % SERIALS``, an inspector's
    scan in every tenth round over the serials (ten a serial, under the clone rules' 20; no
    place: the load raises no travel finding)."""
    return [json.dumps({"label": labels[i % SERIALS],
                        "source": "inspector" if i // SERIALS % INSPECTOR_EVERY == 0
                        else "page"}).encode()
            for i in range(first, SCANS, step)]


def _at_once(*jobs: Any) -> list[Any]:
    """Run each ``(function, *args)`` on its own thread, started together; their results."""
    results: list[Any] = [None] * len(jobs)
    start = threading.Barrier(len(jobs))

    def one(index: int) -> None:
        function, *args = jobs[index]
        start.wait()
        results[index] = function(*args)

    threads = [threading.Thread(target=one, args=(k,)) for k in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _drive_scans(server: RunningServer, bodies: list[bytes | None], token: str) -> Driven:
    # page scans ignore the bearer header; inspector scans need it
    return drive(server.url, "POST", "/api/v1/scans", bodies,
                 {**JSON, "authorization": f"Bearer {token}"}, concurrency=10)


def _push(server: RunningServer, body: bytes) -> dict[str, int]:
    with server.client() as http:
        answer = http.post("/api/v1/records", content=body,
                           headers={"content-type": "application/x-ndjson"})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_two_servers_over_one_postgresql_lose_nothing_and_see_every_scan(
        tmp_path: Path, postgres_url: str) -> None:
    world = build_world(tmp_path, count=SERIALS + 1, database_url=postgres_url)
    home = world.home.path
    labels = [line["label"] for line in world.lines()]
    token = json.loads(ok(run(home, "inspectors", "add", "insp-01", "--json")).stdout)["token"]
    workshop = copy_home(home, tmp_path / "workshop")
    source = tmp_path / "more.csv"
    source.write_text(csv_text(range(3001, 3201), batch="P1"), encoding="utf-8")
    signed = tmp_path / "more.jsonl"
    ok(run(workshop, "sign", str(source), "--key", str(world.key), "--out", str(signed)))
    lines = signed.read_text(encoding="utf-8").splitlines()
    chunks = ["\n".join(lines[i:i + 20]).encode() for i in range(0, len(lines), 20)]

    with running_server(home, "--scan-rate-limit", "0") as one, \
            running_server(home, "--scan-rate-limit", "0") as two:
        # 20 clients, half on each server, the scans of every serial split between them
        driven = _at_once((_drive_scans, one, _bodies(labels, 0, 2), token),
                          (_drive_scans, two, _bodies(labels, 1, 2), token))
        # the same SIGNED.jsonl pushed to both at once, in parts, every part to both together
        pushed = _at_once(*[(_push, server, chunk) for chunk in chunks
                            for server in (one, two)])
        # one serial scanned by inspectors far apart, alternating servers
        clone = labels[SERIALS]
        places = ["29.27,117.18", "39.90,116.40", "29.27,117.18", "31.23,121.47"]
        verdicts = []
        for number, place in enumerate(places):
            server = (one, two)[number % 2]
            with server.client() as http:
                answer = http.post("/api/v1/scans", headers={"authorization": f"Bearer {token}"},
                                   json={"label": clone, "source": "inspector",
                                         "location": place})
            assert answer.status_code == 200, answer.text
            verdicts.append(answer.json()["verdict"])
        for server in (one, two):  # the finding shown to the public by either
            with server.client() as http:
                shown = http.post("/api/v1/scans", json={"label": clone, "source": "page"})
            assert shown.json()["verdict"] == "suspected-clone", shown.json()
        statuses = {}
        for name, server in (("one", one), ("two", two)):
            with server.client() as http:
                statuses[name] = [http.get(f"/api/v1/serials/1/{1001 + k}").json()
                                  for k in range(SERIALS + 1)]

    statuses_seen = [Counter(d.statuses) for d in driven]
    assert statuses_seen == [{200: SCANS // 2}, {200: SCANS // 2}]
    checks: dict[str, list[int]] = {}
    for answer in (json.loads(body) for d in driven for body in d.answers):
        assert answer["verdict"] == "genuine", answer["reasons"][1:2]
        checks.setdefault(answer["serial"], []).append(answer["checks"])
    # every scan saw every earlier one, whichever server took it: a serial's counts are 1..100
    assert len(checks) == SERIALS
    assert all(sorted(seen) == list(range(1, SCANS // SERIALS + 1)) for seen in checks.values())
    # both servers give every serial's full count at the end
    for name, answers in statuses.items():
        assert [a["checks"] for a in answers[:SERIALS]] == [SCANS // SERIALS] * SERIALS, name
        assert answers[SERIALS]["suspected_clone"] is True, name
        assert answers[SERIALS]["checks"] == len(places) + 2, name
    assert verdicts == ["genuine"] + ["suspected-clone"] * (len(places) - 1)
    inspector_scans = SCANS // INSPECTOR_EVERY
    assert count(home, "SELECT count(*) FROM scans") == inspector_scans + len(places)
    assert count(home, "SELECT count(*) FROM page_scans") == SCANS - inspector_scans + 2
    assert count(home, "SELECT sum(checks) FROM page_checks") == SCANS - inspector_scans + 2

    # each part stored once, by one of the two servers; the other answered already_stored
    for k in range(len(chunks)):
        pair = sorted((pushed[2 * k]["stored"], pushed[2 * k + 1]["stored"]))
        assert pair == [0, 20], (k, pushed[2 * k:2 * k + 2])
        assert all(p["stored"] + p["already_stored"] == 20 for p in pushed[2 * k:2 * k + 2])
    assert count(home, "SELECT count(*) FROM signed_records WHERE batch = 'P1'") == len(lines)
    assert count(home, "SELECT count(DISTINCT serial) FROM signed_records "
                       "WHERE batch = 'P1'") == len(lines)
    assert_registry_sound(world)
