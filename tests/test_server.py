"""`jdzhi server` through HTTP on a real uvicorn server: the page, the trust bundle, record and
endorsement uploads, scans and serials, inspectors; every refusal a JSON error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hardening_support import World, build_world, ok, run, world_on_both_backends
from server_support import (
    RunningServer,
    count,
    running_server,
    signed_elsewhere,
    stored_endorsement,
)
from trace_support import forged_label

NDJSON = {"content-type": "application/x-ndjson"}
CBOR = {"content-type": "application/cbor"}
COSE = {"content-type": "application/cose"}


#: the server's home, its registry in SQLite or in PostgreSQL (every test runs on both)
world = world_on_both_backends("server-world", count=3)


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[RunningServer]:
    with running_server(world.home.path, "--scan-rate-limit", "0") as running:
        yield running


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "code"} and body["code"] == code, body
    assert "\n" not in body["error"] and "Traceback" not in body["error"]
    return str(body["error"])


def _scan(http: httpx.Client, label: str, **fields: Any) -> dict[str, Any]:
    headers = fields.pop("headers", {})
    response = http.post("/api/v1/scans", json={"label": label, "source": "page", **fields},
                         headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_health_and_openapi(http: httpx.Client) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    described = http.get("/api/v1/openapi.json").json()
    assert described["openapi"].startswith("3.")
    assert {"/api/v1/scans", "/api/v1/records", "/api/v1/trust", "/api/v1/endorsements",
            "/api/v1/serials/{enterprise}/{serial}"} <= set(described["paths"])


def test_trust_is_published_only_when_signed_by_the_authority_and_newer(
        world: World, http: httpx.Client, tmp_path: Path) -> None:
    bundle = world.bundle.read_bytes()
    forged = bytearray(bundle)
    forged[-5] ^= 1
    _error(http.post("/api/v1/trust", content=bytes(forged), headers=CBOR), 422, "integrity")
    other = build_world(tmp_path / "other", count=1).bundle.read_bytes()  # another authority
    _error(http.post("/api/v1/trust", content=other, headers=CBOR), 422, "integrity")
    if http.get("/api/v1/trust").status_code == 404:
        published = http.post("/api/v1/trust", content=bundle, headers=CBOR)
        assert published.status_code == 201, published.text
        assert published.json()["keys"] >= 1
    _error(http.post("/api/v1/trust", content=bundle, headers=CBOR), 409, "conflict")
    served = http.get("/api/v1/trust")
    assert served.headers["content-type"] == "application/cbor" and served.content == bundle
    assert http.get("/trust.cbor").content == bundle


def test_the_verification_page_is_served_with_the_authority_key_pinned(
        world: World, http: httpx.Client) -> None:
    label = world.lines()[0]["label"]
    page = http.get("/V/" + label.split("/V/", 1)[1])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f'content="{world.authority_public_key}"' in page.text
    assert "Content-Security-Policy" in page.headers
    assert http.get("/verify.js").headers["content-type"].startswith("text/javascript")
    assert http.get("/style.css").status_code == 200


def test_records_are_verified_and_stored_all_or_none(
        world: World, http: httpx.Client, tmp_path: Path) -> None:
    signed = signed_elsewhere(world, tmp_path, range(2001, 2006), "B2")
    lines = signed.read_text(encoding="utf-8").splitlines()
    tampered = json.loads(lines[2])
    tampered["label"] = forged_label(tampered["label"])
    bad = "\n".join([*lines[:2], json.dumps(tampered), *lines[3:]]).encode()
    message = _error(http.post("/api/v1/records", content=bad, headers=NDJSON), 400,
                     "not-genuine")
    assert message.startswith("line 3 is tampered") and "nothing was stored" in message
    numbered = http.post("/api/v1/records", content=bad, headers=NDJSON,
                         params={"first_line": "1001"})  # a part of a bigger file
    assert _error(numbered, 400, "not-genuine").startswith("line 1003 is tampered")
    for wrong in ("0", "-1", "x", "1e3", "９"):
        _error(http.post("/api/v1/records", content=bad, headers=NDJSON,
                         params={"first_line": wrong}), 400, "invalid-input")
    home = world.home.path
    assert count(home, "SELECT count(*) FROM signed_records WHERE batch = 'B2'") == 0
    stored = http.post("/api/v1/records", content=signed.read_bytes(), headers=NDJSON)
    assert stored.json() == {"stored": 5, "already_stored": 0}
    again = http.post("/api/v1/records", content=signed.read_bytes(), headers=NDJSON)
    assert again.json() == {"stored": 0, "already_stored": 5}
    assert count(home, "SELECT count(*) FROM signed_records WHERE batch = 'B2'") == 5
    assert http.get("/api/v1/serials/1/2003").json()["signed"] is True
    ok(run(home, "registry", "audit"))


def test_a_serial_signed_again_with_other_content_is_a_conflict(
        world: World, http: httpx.Client, tmp_path: Path) -> None:
    first = signed_elsewhere(world, tmp_path / "a", range(3001, 3003), "B3")
    second = signed_elsewhere(world, tmp_path / "b", range(3002, 3004), "B4")
    assert http.post("/api/v1/records", content=first.read_bytes(),
                     headers=NDJSON).json()["stored"] == 2
    message = _error(http.post("/api/v1/records", content=second.read_bytes(), headers=NDJSON),
                     409, "conflict")
    assert "serial 3002" in message
    assert http.get("/api/v1/serials/1/3003").json()["signed"] is False


def test_an_endorsement_made_by_the_lab_is_stored_once(
        world: World, http: httpx.Client, tmp_path: Path) -> None:
    home = world.home.path
    lab_key = tmp_path / "lab.key"
    ok(run(home, "lab", "add", "景德镇陶瓷检测中心", "--accreditation", "CNAS L0001",
           "--out", str(lab_key)))
    signed = signed_elsewhere(world, tmp_path, range(4001, 4004), "B5")
    assert http.post("/api/v1/records", content=signed.read_bytes(),
                     headers=NDJSON).json()["stored"] == 3
    lab_home = tmp_path / "workshop-home"  # the lab's copy knows the batch and the lab key
    results = tmp_path / "results.csv"
    results.write_text("ware_class,pb,cd\nflat,0.2,0.01\n", encoding="utf-8")
    ok(run(lab_home, "lab", "endorse", "1", "B5", "--results", str(results), "--key",
           str(lab_key), "--report-no", "R-SERVER-1"))
    message = stored_endorsement(lab_home, "R-SERVER-1")
    forged = bytearray(message)
    forged[-3] ^= 1
    _error(http.post("/api/v1/endorsements", content=bytes(forged), headers=COSE), 422,
           "integrity")
    created = http.post("/api/v1/endorsements", content=message, headers=COSE)
    assert created.status_code == 201 and created.json()["outcome"] == "pass"
    assert http.post("/api/v1/endorsements", content=message, headers=COSE).status_code == 200
    assert count(home, "SELECT count(*) FROM endorsements WHERE report_no = 'R-SERVER-1'") == 1
    label = json.loads(signed.read_text(encoding="utf-8").splitlines()[0])["label"]
    assert _scan(http, label)["endorsement"]["status"] == "pass"


def test_a_page_scan_gives_the_verdict_and_counts_checks(
        world: World, http: httpx.Client) -> None:
    label = world.lines()[1]["label"]
    first = _scan(http, label, location="Jingdezhen")
    assert first["verdict"] == "genuine" and first["serial"] == "1002"
    assert first["enterprise_id"] == 1 and first["checks"] >= 1 and first["clone_warning"] is None
    answer = http.post("/api/v1/scans", json={"label": label, "source": "page"})
    assert answer.headers["content-type"] == "application/json"
    second = answer.json()  # rendered as JSONResponse renders, the per-scan fields last
    assert answer.content == json.dumps(second, ensure_ascii=False, separators=(",", ":")).encode()
    assert list(second)[-3:] == ["checks", "first_checked_at", "clone_warning"]
    assert second["checks"] == first["checks"] + 1
    assert second["first_checked_at"] == first["first_checked_at"]
    status = http.get("/api/v1/serials/JDZ-GI-2026-0001/1002").json()
    assert status["checks"] == second["checks"] and status["suspected_clone"] is False
    forged = label[:-6] + ("AAAAAA" if not label.endswith("AAAAAA") else "BBBBBB")
    assert _scan(http, forged)["verdict"] in ("tampered", "malformed")
    assert _scan(http, "HTTPS://EVIL.EXAMPLE/V/NOTALABEL")["verdict"] == "malformed"


def test_one_client_flooding_a_serial_from_many_claimed_places_raises_no_clone(
        world: World, http: httpx.Client) -> None:
    label = world.lines()[2]["label"]
    cities = ["Beijing", "Shanghai", "Guangzhou", "Chengdu", "Xi'an", "Harbin", "Kunming",
              "39.90,116.40", "31.23,121.47", "23.13,113.26"]
    for _ in range(6):
        for city in cities:
            answer = _scan(http, label, location=city)
            assert answer["verdict"] == "genuine", answer
            assert answer["clone_warning"] is None, answer
    status = http.get("/api/v1/serials/1/1003").json()
    assert status["checks"] >= 60 and status["suspected_clone"] is False


def test_distinct_clients_at_distinct_places_raise_a_warning_not_a_verdict(
        world: World, http: httpx.Client, tmp_path: Path) -> None:
    signed = signed_elsewhere(world, tmp_path, range(5001, 5002), "B6")
    http.post("/api/v1/records", content=signed.read_bytes(), headers=NDJSON)
    label = json.loads(signed.read_text(encoding="utf-8"))["label"]
    places = ["Beijing", "Shanghai", "Guangzhou", "Chengdu", "Harbin"]
    answers = [_scan(http, label, location=place,
                     headers={"X-Forwarded-For": f"203.0.113.{n}"})  # a proxy on 127.0.0.1
               for n, place in enumerate(places, start=1)]
    assert [a["clone_warning"] is not None for a in answers] == [False] * 3 + [True] * 2
    assert "4 distinct locations" in answers[3]["clone_warning"]
    assert all(a["verdict"] == "genuine" for a in answers)
    assert http.get("/api/v1/serials/1/5001").json()["suspected_clone"] is False


def test_inspector_scans_authenticate_and_can_flag_a_clone(
        world: World, http: httpx.Client, tmp_path: Path) -> None:
    home = world.home.path
    added = json.loads(ok(run(home, "inspectors", "add", "insp-07", "--json")).stdout)
    token = added["token"]
    assert count(home, "SELECT count(*) FROM inspectors WHERE token_sha256 = ?",
                 token.encode()) == 0  # only its hash is stored
    signed = signed_elsewhere(world, tmp_path, range(6001, 6002), "B7")
    http.post("/api/v1/records", content=signed.read_bytes(), headers=NDJSON)
    label = json.loads(signed.read_text(encoding="utf-8"))["label"]
    scan = {"label": label, "source": "inspector"}
    _error(http.post("/api/v1/scans", json=scan), 401, "unauthorized")
    _error(http.post("/api/v1/scans", json=scan, headers={"Authorization": "Bearer nope"}), 401,
           "unauthorized")
    bearer = {"Authorization": f"Bearer {token}"}
    _error(http.post("/api/v1/scans", json={**scan, "inspector": "someone"}, headers=bearer),
           403, "forbidden")
    here = http.post("/api/v1/scans", json={**scan, "location": "29.27,117.18"}, headers=bearer)
    assert here.json()["verdict"] == "genuine"
    far = http.post("/api/v1/scans", json={**scan, "location": "39.90,116.40",
                                           "inspector": "insp-07"}, headers=bearer)
    assert far.json()["verdict"] == "suspected-clone", far.json()
    assert any("impossible travel" in reason for reason in far.json()["reasons"])
    assert count(home, "SELECT count(*) FROM scans WHERE inspector = 'insp-07'") == 2
    status = http.get("/api/v1/serials/1/6001").json()
    assert status["suspected_clone"] is True and status["checks"] == 2
    assert status["reasons"][0].startswith("suspected clone")
    assert _scan(http, label)["verdict"] == "suspected-clone"  # the registry's finding, shown
    ok(run(home, "inspectors", "revoke", "insp-07"))
    _error(http.post("/api/v1/scans", json=scan, headers=bearer), 401, "unauthorized")


def test_unknown_serials_and_enterprises(http: httpx.Client) -> None:
    _error(http.get("/api/v1/serials/999/1001"), 404, "not-found")
    _error(http.get("/api/v1/serials/1/12ab"), 400, "invalid-input")
    assert http.get("/api/v1/serials/1/99999").json()["signed"] is False
    _error(http.get("/no/such/thing"), 404, "no-such-endpoint")
    _error(http.delete("/api/v1/scans"), 405, "method-not-allowed")


def test_an_anonymous_warning_names_places_only_to_the_kilometre(
        world: World, http: httpx.Client, tmp_path: Path) -> None:
    signed = signed_elsewhere(world, tmp_path, range(7001, 7002), "B8")
    http.post("/api/v1/records", content=signed.read_bytes(), headers=NDJSON)
    label = json.loads(signed.read_text(encoding="utf-8"))["label"]
    first = _scan(http, label, location="29.271234,117.184567",
                  headers={"X-Forwarded-For": "192.0.2.1"})
    assert first["clone_warning"] is None
    second = _scan(http, label, location="39.90,116.40", headers={"X-Forwarded-For": "192.0.2.2"})
    warning = second["clone_warning"]
    assert warning is not None and "impossible travel" in warning, second
    assert "29.27,117.18" in warning and "29.2712" not in warning
    assert second["verdict"] == "genuine"
