"""Malformed requests to a real `jdzhi server` get a 4xx JSON error, never a 500 or a traceback;
scans are rate-limited per client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from hardening_support import World, build_world
from server_support import RunningServer, running_server, start_server

JSON = {"content-type": "application/json"}
TEN_MB = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("server-malformed"), count=1)


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[RunningServer]:
    running = start_server(world.home.path, "--scan-rate-limit", "0")
    yield running
    logged = running.stop()
    assert "Traceback" not in logged and "internal error" not in logged, logged[-2000:]
    assert running.process.returncode == 0, logged[-2000:]  # Ctrl-C is a normal stop


def _refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "code"} and body["code"] == code, body
    assert "Traceback" not in body["error"] and "\n" not in body["error"]


def _label(world: World) -> str:
    return str(world.lines()[0]["label"])


@pytest.mark.parametrize(("body", "code"), [
    (b"not json", "invalid-json"),
    (b"\xff\xfe{}", "invalid-utf8"),
    (b"[" * 100_000, "invalid-json"),
    (b'{"a": ' * 100_000, "invalid-json"),
    (b"[1, 2]", "invalid-json"),
    (b'{"label": NaN, "source": "page"}', "invalid-json"),
    (b'{"label": 5, "source": "page"}', "wrong-type"),
    (b'{"label": "x", "source": true}', "wrong-type"),
    (b'{"label": "x", "source": "page", "location": ["a"]}', "wrong-type"),
    (b'{"label": "x", "source": "page", "extra": 1}', "unknown-field"),
    (b'{"source": "page"}', "missing-field"),
    (b'{"label": "x", "source": "phone"}', "invalid-input"),
    (b'{"label": "x", "source": "page", "location": "91.0,10.0"}', "invalid-input"),
    (b'{"label": "x", "source": "page", "inspector": "me"}', "invalid-input"),
    (b'{"label": "' + b"A" * 5000 + b'", "source": "page"}', "invalid-input"),
])
def test_malformed_scans_are_refused(server: RunningServer, body: bytes, code: str) -> None:
    with server.client() as http:
        _refused(http.post("/api/v1/scans", content=body, headers=JSON), 400, code)


def test_forged_and_foreign_labels_get_a_verdict_not_an_error(
        server: RunningServer, world: World) -> None:
    label = _label(world)
    with server.client() as http:
        for text in (label[:-1] + ("B" if label[-1] != "B" else "C"), label + "A", "", "\x00",
                     "HTTPS://TRACE.EXAMPLE.CN/V/" + "7" * 80, "😀" * 100):
            answer = http.post("/api/v1/scans", json={"label": text, "source": "page"})
            assert answer.status_code == 200, answer.text
            assert answer.json()["verdict"] in ("tampered", "malformed"), answer.json()


@pytest.mark.parametrize("path", ["/api/v1/scans", "/api/v1/trust", "/api/v1/endorsements"])
def test_a_ten_megabyte_body_is_refused(server: RunningServer, path: str) -> None:
    types = {"/api/v1/scans": "application/json", "/api/v1/trust": "application/cbor",
             "/api/v1/endorsements": "application/cose"}
    with server.client() as http:
        _refused(http.post(path, content=b"{" * TEN_MB, headers={"content-type": types[path]}),
                 413, "too-large")

        def chunks() -> Iterator[bytes]:  # no Content-Length: refused while streaming
            for _ in range(10):
                yield b" " * (1024 * 1024)

        _refused(http.post(path, content=chunks(), headers={"content-type": types[path]}),
                 413, "too-large")


def test_wrong_content_types_and_bodies_of_uploads(server: RunningServer) -> None:
    with server.client() as http:
        _refused(http.post("/api/v1/scans", content=b"{}", headers={"content-type": "text/plain"}),
                 415, "unsupported-media-type")
        _refused(http.post("/api/v1/records", content=b"{}", headers=JSON), 415,
                 "unsupported-media-type")
        ndjson = {"content-type": "application/x-ndjson"}
        for body in (b"\xff\xfe", b"", b"\n\n", b"not json\n", b'{"serial": 1}\n',
                     b'{"serial": "1", "record": "!!", "label": "x"}\n', b"[" * 100_000):
            response = http.post("/api/v1/records", content=body, headers=ndjson)
            assert response.status_code == 400, (body[:20], response.text)
            assert set(response.json()) == {"error", "code"}
        cbor = {"content-type": "application/cbor"}
        for body in (b"", b"\xa0", b"\x9f" * 10_000, b"\xd2\x84" + b"\x00" * 100):
            response = http.post("/api/v1/trust", content=body, headers=cbor)
            assert 400 <= response.status_code < 500, response.text
            response = http.post("/api/v1/endorsements", content=body,
                                 headers={"content-type": "application/cose"})
            assert 400 <= response.status_code < 500, response.text


def test_scans_are_rate_limited_per_client(world: World) -> None:
    with running_server(world.home.path, "--scan-rate-limit", "5") as limited, \
            limited.client() as http:
        scan = {"label": _label(world), "source": "page"}
        assert [http.post("/api/v1/scans", json=scan).status_code for _ in range(5)] == [200] * 5
        refused = http.post("/api/v1/scans", json=scan)
        _refused(refused, 429, "rate-limited")
        assert int(refused.headers["Retry-After"]) >= 1
        other = http.post("/api/v1/scans", json=scan, headers={"X-Forwarded-For": "198.51.100.9"})
        assert other.status_code == 200  # another client has its own allowance
