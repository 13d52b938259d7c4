"""The clients of `jdzhi server` against a real server on 127.0.0.1: `jdzhi push`, `jdzhi trust
publish`, `jdzhi lab endorse|push --server`, `jdzhi scan --server`; a server that cannot be
reached (exit 11, nothing lost locally), refusals mapped to exit codes, bad addresses."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import BOTH_BACKENDS
from hardening_support import (
    LICENSE_NO,
    World,
    build_world,
    forked_home,
    ok,
    run,
    world_on_both_backends,
)
from label_support import label_of
from server_support import RunningServer, copy_home, count, running_server, signed_elsewhere
from typer.testing import Result

from jdzhi.errors import Busy, ExitCode, InvalidInput, JdzhiError, Unreachable
from jdzhi.online.client import USER_AGENT, check_server_url, open_center
from jdzhi.online.uploads import PushPlan, push_records

#: the server's clock (the world's JDZHI_NOW, 2026-03-10T09:00:00+08:00) as it stores times
SERVER_NOW = "2026-03-10T01:00:00Z"


#: the center's home, its registry in SQLite or in PostgreSQL (every test of it runs on both)
world = world_on_both_backends("online-world", count=6)


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[RunningServer]:
    with running_server(world.home.path, "--scan-rate-limit", "0") as running:
        yield running


@pytest.fixture
def closed_url() -> str:
    """An address where nothing listens: a port bound and closed again."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _one_error_line(result: Result, code: ExitCode) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def _stored(world: World, batch: str) -> int:
    return count(world.home.path, "SELECT count(*) FROM signed_records WHERE batch = ?", batch)


def _tampered(signed: Path, line: int) -> None:
    lines = signed.read_text(encoding="utf-8").splitlines()
    entry = json.loads(lines[line - 1])
    entry["label"] = entry["label"][:-4] + ("AAAA" if not entry["label"].endswith("AAAA")
                                            else "BBBB")
    lines[line - 1] = json.dumps(entry, ensure_ascii=False)
    signed.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# jdzhi push


def test_push_stores_every_line_and_sending_again_is_harmless(
        world: World, server: RunningServer, tmp_path: Path) -> None:
    signed = signed_elsewhere(world, tmp_path, range(2001, 2005), "P1")
    client = tmp_path / "client-home"
    first = ok(run(client, "push", str(signed), "--server", server.url + "/", "--json"))
    assert json.loads(first.stdout) == {"server": server.url, "file": str(signed), "lines": 4,
                                        "requests": 1, "stored": 4, "already_stored": 0}
    assert _stored(world, "P1") == 4
    again = ok(run(client, "push", str(signed), "--server", server.url))
    assert again.stdout == f"Sent {signed} to {server.url}: 0 records stored, 4 already stored\n"
    assert _stored(world, "P1") == 4


def test_push_of_a_tampered_line_is_refused_with_its_number_and_stores_nothing(
        world: World, server: RunningServer, tmp_path: Path) -> None:
    signed = signed_elsewhere(world, tmp_path, range(2101, 2106), "P2")
    _tampered(signed, 3)
    line = _one_error_line(run(tmp_path / "c", "push", str(signed), "--server", server.url),
                           ExitCode.CHECK_FAILED)
    assert line.startswith(f"error: the center at {server.url} refused {signed}: line 3 is "
                           "tampered: "), line
    assert line.endswith("nothing was stored")
    assert _stored(world, "P2") == 0


def test_a_big_file_goes_in_parts_each_all_or_none_and_a_rerun_completes_it(
        world: World, server: RunningServer, tmp_path: Path) -> None:
    signed = signed_elsewhere(world, tmp_path, range(2201, 2207), "P3")
    good = signed.read_text(encoding="utf-8")
    _tampered(signed, 5)
    longest = max(len(line.encode()) + 1
                  for line in (*good.splitlines(), *signed.read_text("utf-8").splitlines()))
    plans: list[PushPlan] = []
    with pytest.raises(JdzhiError) as refused:
        push_records(server.url, signed, max_request_bytes=2 * longest, planned=plans.append)
    assert plans == [PushPlan(lines=6, parts=3)]
    assert refused.value.exit_code == ExitCode.CHECK_FAILED
    message = refused.value.message
    assert ": line 5 is tampered: " in message, message  # the file's line, not the part's
    assert f"lines 1-4 of {signed} were sent before and are stored" in message
    assert f"`jdzhi push {signed} --server {server.url}` again" in message
    assert _stored(world, "P3") == 4  # the first two parts, each all or none
    signed.write_text(good, encoding="utf-8")
    advanced: list[int] = []
    done = push_records(server.url, signed, max_request_bytes=2 * longest,
                        progress=advanced.append)
    assert (done.requests, done.stored, done.already_stored, advanced) == (3, 2, 4, [2, 2, 2])
    assert _stored(world, "P3") == 6


def test_push_checks_the_whole_file_before_sending_anything(
        world: World, server: RunningServer, tmp_path: Path) -> None:
    signed = signed_elsewhere(world, tmp_path, range(2301, 2304), "P4")
    signed.write_text(signed.read_text(encoding="utf-8") + "\nnot json\n", encoding="utf-8")
    line = _one_error_line(run(tmp_path / "c", "push", str(signed), "--server", server.url),
                           ExitCode.INVALID_INPUT)
    assert f"{signed} line 5 is not a signed record" in line
    assert _stored(world, "P4") == 0
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    assert "holds no signed records" in _one_error_line(
        run(tmp_path / "c", "push", str(empty), "--server", server.url), ExitCode.INVALID_INPUT)
    assert "does not exist" in _one_error_line(
        run(tmp_path / "c", "push", str(tmp_path / "nope.jsonl"), "--server", server.url),
        ExitCode.INVALID_INPUT)


def test_an_unreachable_center_is_exit_11_in_one_line(
        world: World, tmp_path: Path, closed_url: str) -> None:
    line = _one_error_line(run(tmp_path / "c", "push", str(world.signed), "--server",
                               closed_url), ExitCode.UNREACHABLE)
    assert line == (f"error: cannot reach the center at {closed_url}: connection refused (is "
                    "`jdzhi server` running there?)")
    unknown = _one_error_line(run(tmp_path / "c", "push", str(world.signed), "--server",
                                  "http://no-such-host.invalid"), ExitCode.UNREACHABLE)
    assert "its host name is not known" in unknown


def test_tls_to_a_plain_server_and_a_silent_server_are_unreachable(
        world: World, server: RunningServer, tmp_path: Path) -> None:
    tls = server.url.replace("http://", "https://")
    line = _one_error_line(run(tmp_path / "c", "push", str(world.signed), "--server", tls),
                           ExitCode.UNREACHABLE)
    assert line.startswith(f"error: cannot reach the center at {tls}: TLS failed ("), line
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with open_center(url) as center, pytest.raises(Unreachable) as waited:
            center.call("GET", "/healthz", what="a health check", timeout=0.5)
    assert waited.value.message == f"the center at {url} did not answer within 0.5 s"
    assert waited.value.exit_code == ExitCode.UNREACHABLE


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "file:///tmp/x", "127.0.0.1:8000",
                                 "http://", "http://user:secret@127.0.0.1:8000",
                                 "http://127.0.0.1:99999", "https://center.example/?a=b",
                                 "javascript:alert(1)", ""])
def test_an_address_that_is_not_http_is_exit_3(world: World, tmp_path: Path, url: str) -> None:
    line = _one_error_line(run(tmp_path / "c", "push", str(world.signed), "--server", url),
                           ExitCode.INVALID_INPUT)
    assert "secret" not in line
    with pytest.raises(InvalidInput):
        check_server_url(url)


@contextmanager
def _answering(*answers: tuple[int, str, bytes, dict[str, str]]) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 giving these (status, content type, body, headers) answers
    in turn: a proxy, or a center's rate limit, as the client meets them."""
    queue = list(answers)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            assert self.headers.get("user-agent") == USER_AGENT
            self.rfile.read(int(self.headers.get("content-length") or 0))
            status, kind, body, headers = queue.pop(0)
            self.send_response(status)
            for name, value in {"Content-Type": kind, "Content-Length": str(len(body)),
                                **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert queue == []


def test_a_server_that_is_not_jdzhi_is_unreachable(world: World, tmp_path: Path) -> None:
    bad_gateway = (502, "text/html", b"<html><body>502 Bad Gateway</body></html>", {})
    with _answering(bad_gateway) as url:  # a proxy whose jdzhi server is down
        line = _one_error_line(run(tmp_path / "c", "push", str(world.signed), "--server", url),
                               ExitCode.UNREACHABLE)
    assert line == (f"error: {url} did not answer as a jdzhi server does (HTTP 502, "
                    "text/html): is --server the center's address?")


def test_a_rate_limited_scan_waits_as_told_and_a_proxys_413_says_what_to_raise() -> None:
    limited = (429, "application/json",
               b'{"error": "too many scans from this client: retry in 1 s", '
               b'"code": "rate-limited"}', {"Retry-After": "1"})
    with _answering(limited, (200, "application/json", b'{"verdict": "genuine"}', {})) as url, \
            open_center(url) as center:
        assert center.call("POST", "/api/v1/scans", what="the scan", content=b"{}",
                           patient=True) == (200, {"verdict": "genuine"})
    with _answering(limited) as url, open_center(url) as center, pytest.raises(Busy) as busy:
        center.call("POST", "/api/v1/scans", what="the scan", content=b"{}")
    assert busy.value.message == (f"the center at {url} refused the scan: too many scans from "
                                  "this client: retry in 1 s")
    with _answering((413, "text/html", b"<html>413</html>", {})) as url, \
            open_center(url) as center, pytest.raises(Unreachable) as refused:
        center.call("POST", "/api/v1/records", what="x", content=b"x" * 2000)
    assert refused.value.message == (f"a proxy in front of {url} refused a request of 2000 bytes "
                                     "(HTTP 413): raise its body limit to the center's (nginx: "
                                     "client_max_body_size 32m)")


# ---------------------------------------------------------------------------------------------
# jdzhi trust publish


def test_trust_publish_takes_only_a_newer_bundle_of_the_centers_authority(
        world: World, server: RunningServer, tmp_path: Path) -> None:
    with server.client() as http:
        assert http.get("/api/v1/trust").status_code == 404  # only this test publishes
    client = tmp_path / "client-home"
    published = json.loads(ok(run(client, "trust", "publish", str(world.bundle), "--server",
                                  server.url, "--json")).stdout)
    data = world.bundle.read_bytes()
    with server.client() as http:
        assert http.get("/api/v1/trust").content == data
    import hashlib

    assert published == {"server": server.url, "file": str(world.bundle),
                         "issued_at": SERVER_NOW, "expires_at": "2026-04-09T01:00:00Z",
                         "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                         "keys": 1, "enterprises": 1, "endorsements": 0}
    again = _one_error_line(run(client, "trust", "publish", str(world.bundle), "--server",
                                server.url), ExitCode.CONFLICT)
    assert again == (f"error: the center at {server.url} refused the bundle {world.bundle}: the "
                     f"bundle was issued {SERVER_NOW}, not after the current one ({SERVER_NOW})"
                     ": nothing changed")
    foreign = build_world(tmp_path / "other", count=1).bundle  # another authority's bundle
    refused = _one_error_line(run(client, "trust", "publish", str(foreign), "--server",
                                  server.url), ExitCode.INTEGRITY)
    assert refused.startswith(f"error: the center at {server.url} refused the bundle {foreign}:")
    forged = tmp_path / "forged.cbor"
    forged.write_bytes(data[:-5] + bytes([data[-5] ^ 1]) + data[-4:])
    _one_error_line(run(client, "trust", "publish", str(forged), "--server", server.url),
                    ExitCode.INTEGRITY)


def _exported(home: Path, hour: int) -> tuple[Path, int]:
    """A bundle of ``home`` issued at ``hour``:00 on the world's day, and its log's size."""
    out = home.parent / f"trust-{hour}.cbor"
    env = {"JDZHI_NOW": f"2026-03-10T{hour:02d}:00:00+08:00"}
    answer = ok(run(home, "trust", "export", "--out", str(out), "--json", env=env))
    return out, int(json.loads(answer.stdout)["log_size"])


@BOTH_BACKENDS
def test_trust_publish_takes_a_later_export_and_refuses_a_forked_log(tmp_path: Path) -> None:
    """The center's later bundle extends the published log; a copy of its home (same authority
    key) that went its own way exports bundles issued later still, and each is refused."""
    world = build_world(tmp_path / "center", count=1)
    center = world.home.path
    client = tmp_path / "client-home"

    def publish(bundle: Path, url: str) -> Result:
        return run(client, "trust", "publish", str(bundle), "--server", url)

    with forked_home(world.home, tmp_path / "fork" / "home") as copy, \
            running_server(center, "--scan-rate-limit", "0") as server:
        fork = copy.path
        ok(publish(world.bundle, server.url))  # the log at its first export (+1: this publish)
        ok(run(center, "keys", "issue", LICENSE_NO, "--out", str(tmp_path / "center-2.key")))
        later, size = _exported(center, 10)
        ok(publish(later, server.url))

        forked, behind = _exported(fork, 11)
        assert behind < size
        refused = _one_error_line(publish(forked, server.url), ExitCode.INTEGRITY)
        assert f"log has {behind} entries, fewer than the {size}" in refused, refused
        ok(run(fork, "inspectors", "add", "Fork inspector"))  # stands for the center's publish
        ok(run(fork, "keys", "issue", LICENSE_NO, "--out", str(tmp_path / "fork-2.key")))
        forked, same = _exported(fork, 12)
        assert same == size
        refused = _one_error_line(publish(forked, server.url), ExitCode.INTEGRITY)
        assert f"not a consistent extension of the checkpoint of size {size}" in refused
        ok(run(fork, "inspectors", "add", "Another fork inspector"))
        forked, ahead = _exported(fork, 13)
        assert ahead > size
        refused = _one_error_line(publish(forked, server.url), ExitCode.INTEGRITY)
        assert f"not a consistent extension of the checkpoint of size {size}" in refused
        with server.client() as http:
            answer = http.post("/api/v1/trust", content=forked.read_bytes(),
                               headers={"content-type": "application/cbor"})
            assert (answer.status_code, answer.json()["code"]) == (409, "integrity")
            assert http.get("/api/v1/trust").content == later.read_bytes()

        ok(run(center, "inspectors", "add", "Center inspector"))
        newest, grown = _exported(center, 14)
        assert grown > size
        ok(publish(newest, server.url))
        again = _one_error_line(publish(later, server.url), ExitCode.CONFLICT)
        assert "not after the current one" in again
    assert count(center, "SELECT count(*) FROM published_bundles") == 3


# ---------------------------------------------------------------------------------------------
# jdzhi lab endorse --server, jdzhi lab push


@pytest.fixture(scope="module")
def lab(world: World, server: RunningServer, tmp_path_factory: pytest.TempPathFactory
        ) -> tuple[Path, Path, Path]:
    """(the lab's home, its key, a results file): a lab certified at the center, whose home is
    a copy of the center's registry after the batch L1 reached it."""
    folder = tmp_path_factory.mktemp("lab")
    key = folder / "lab.key"
    ok(run(world.home.path, "lab", "add", "景德镇陶瓷检测中心", "--accreditation", "CNAS L0001",
           "--out", str(key)))
    signed = signed_elsewhere(world, folder, range(3001, 3004), "L1")
    ok(run(folder, "push", str(signed), "--server", server.url))
    results = folder / "results.csv"
    results.write_text("ware_class,pb,cd\nflat,0.2,0.01\n", encoding="utf-8")
    return copy_home(world.home.path, folder / "lab-home"), key, results


def _endorse(lab: tuple[Path, Path, Path], report_no: str, *args: str) -> Result:
    home, key, results = lab
    return run(home, "lab", "endorse", "1", "L1", "--results", str(results), "--key", str(key),
               "--report-no", report_no, *args)


def _at_center(world: World, report_no: str) -> int:
    return count(world.home.path, "SELECT count(*) FROM endorsements WHERE report_no = ?",
                 report_no)


def test_lab_endorse_with_server_records_it_here_and_at_the_center(
        world: World, server: RunningServer, lab: tuple[Path, Path, Path]) -> None:
    done = ok(_endorse(lab, "R-ONLINE-1", "--server", server.url, "--json"))
    answer = json.loads(done.stdout)
    assert answer["outcome"] == "pass" and answer["report_no"] == "R-ONLINE-1"
    assert answer["sent"] == {"server": server.url, "created": True}
    assert _at_center(world, "R-ONLINE-1") == 1
    again = ok(run(lab[0], "lab", "push", "R-ONLINE-1", "--server", server.url))
    assert again.stdout == f"Sent report R-ONLINE-1 to {server.url}: the center had it already\n"
    assert _at_center(world, "R-ONLINE-1") == 1


def test_lab_endorse_keeps_the_endorsement_when_the_center_is_unreachable(
        world: World, server: RunningServer, lab: tuple[Path, Path, Path],
        closed_url: str) -> None:
    result = _endorse(lab, "R-ONLINE-2", "--server", closed_url)
    line = _one_error_line(result, ExitCode.UNREACHABLE)
    assert line == (f"error: cannot reach the center at {closed_url}: connection refused (is "
                    "`jdzhi server` running there?); report R-ONLINE-2 is recorded in this "
                    f"home: send it with `jdzhi lab push R-ONLINE-2 --server {closed_url}`")
    assert result.stdout.startswith("PASS batch L1 of 景德镇市青云陶瓷有限公司 (3 records), "
                                    "report R-ONLINE-2")
    assert count(lab[0], "SELECT count(*) FROM endorsements WHERE report_no = 'R-ONLINE-2'") == 1
    assert _at_center(world, "R-ONLINE-2") == 0
    sent = ok(run(lab[0], "lab", "push", "R-ONLINE-2", "--server", server.url, "--json"))
    assert json.loads(sent.stdout) == {"server": server.url, "sent": [{
        "report_no": "R-ONLINE-2", "lab_id": 1, "outcome": "pass", "batch": "L1",
        "enterprise": "景德镇市青云陶瓷有限公司", "created": True}]}
    assert _at_center(world, "R-ONLINE-2") == 1


def test_lab_endorse_checks_the_address_before_signing(
        lab: tuple[Path, Path, Path]) -> None:
    _one_error_line(_endorse(lab, "R-ONLINE-3", "--server", "ftp://center"),
                    ExitCode.INVALID_INPUT)
    assert count(lab[0], "SELECT count(*) FROM endorsements WHERE report_no = 'R-ONLINE-3'") == 0
    _one_error_line(run(lab[0], "lab", "push", "R-NONE", "--server", "http://127.0.0.1:9"),
                    ExitCode.NOT_FOUND)


# ---------------------------------------------------------------------------------------------
# jdzhi scan --server


@pytest.fixture(scope="module")
def token(world: World) -> str:
    added = ok(run(world.home.path, "inspectors", "add", "insp-07", "--json"))
    return str(json.loads(added.stdout)["token"])


def _photo(world: World, folder: Path, index: int) -> Path:
    photo = folder / f"label-{index}.png"
    label_of(world.lines()[index]).save(photo)
    return photo


def _scans(home: Path) -> int:
    return count(home, "SELECT count(*) FROM scans")


def test_scan_reports_to_the_center_and_takes_its_clone_verdict(
        world: World, server: RunningServer, token: str, tmp_path: Path) -> None:
    photo = _photo(world, tmp_path, 3)  # serial 1004: no other test scans it
    kiln = copy_home(world.home.path, tmp_path / "inspector-jingdezhen")
    # a second inspector in Beijing, whose own log never sees the first scan: the center does
    beijing = copy_home(world.home.path, tmp_path / "inspector-beijing")
    before = _scans(beijing)
    env = {"JDZHI_INSPECTOR_TOKEN": token}
    first = run(kiln, "scan", str(photo), "--inspector", "insp-07", "--location",
                "29.27,117.18", "--server", server.url, "--json", env=env)
    assert first.exit_code == 0, first.output
    (here,) = json.loads(first.stdout)
    assert here["verdict"] == "genuine" and here["serial"] == "1004"
    assert {key: here[key] for key in ("checks", "first_checked_at", "clone_warning",
                                       "center_verdict", "verdict_from")} == {
        "checks": 1, "first_checked_at": SERVER_NOW, "clone_warning": None,
        "center_verdict": "genuine", "verdict_from": "local"}
    far = run(beijing, "scan", str(photo), "--location", "39.90,116.40", "--server",
              server.url, env=env)
    assert far.exit_code == ExitCode.CHECK_FAILED, far.output
    assert far.stdout.splitlines()[1] == ("SUSPECTED CLONE — this genuine label turns up too "
                                          "often or too far apart serial 1004 — "
                                          "景德镇市青云陶瓷有限公司")
    assert "the center: suspected clone: impossible travel" in far.stdout
    assert (f"  center ({server.url}): verdict from the center; checked 2 times, first on "
            f"{SERVER_NOW}\n") in far.stdout
    assert far.stdout.endswith("1 code: 1 suspected-clone\n")
    assert _scans(beijing) == before + 1  # the local log has it, with its local verdict
    assert count(beijing, "SELECT count(*) FROM scans WHERE serial = '1004'") == 1
    assert count(beijing, "SELECT count(*) FROM scans WHERE serial = '1004' AND "
                          "verdict = 'genuine'") == 1
    assert token not in first.output + far.output


def test_scan_with_server_needs_a_token_and_refuses_a_wrong_one(
        world: World, server: RunningServer, token: str, tmp_path: Path) -> None:
    photo = _photo(world, tmp_path, 4)
    home = copy_home(world.home.path, tmp_path / "inspector")
    before = _scans(home)
    line = _one_error_line(run(home, "scan", str(photo), "--server", server.url),
                           ExitCode.KEY_ERROR)
    assert "$JDZHI_INSPECTOR_TOKEN" in line
    assert _scans(home) == before  # refused before anything was scanned
    wrong = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    refused = run(home, "scan", str(photo), "--server", server.url,
                  env={"JDZHI_INSPECTOR_TOKEN": wrong})
    assert _one_error_line(refused, ExitCode.KEY_ERROR) == (
        f"error: the center at {server.url} refused the scan: the inspector token is unknown "
        "or revoked; 1 scanned code not reported to the center (this home's scan log has every "
        "scan)")
    assert "GENUINE" in refused.stdout and wrong not in refused.output
    assert _scans(home) == before + 1
    other = run(home, "scan", str(photo), "--inspector", "someone-else", "--server",
                server.url, env={"JDZHI_INSPECTOR_TOKEN": token})
    assert "the token belongs to another inspector" in _one_error_line(other,
                                                                       ExitCode.KEY_ERROR)
    bad_scheme = run(home, "scan", str(photo), "--server", "gopher://center",
                     env={"JDZHI_INSPECTOR_TOKEN": token})
    _one_error_line(bad_scheme, ExitCode.INVALID_INPUT)
    assert _scans(home) == before + 2


def test_scan_keeps_the_local_verdict_and_log_when_the_center_is_unreachable(
        world: World, token: str, tmp_path: Path, closed_url: str) -> None:
    photo = _photo(world, tmp_path, 5)
    home = copy_home(world.home.path, tmp_path / "inspector")
    before = _scans(home)
    result = run(home, "scan", str(photo), "--server", closed_url, "--json",
                 env={"JDZHI_INSPECTOR_TOKEN": token})
    line = _one_error_line(result, ExitCode.UNREACHABLE)
    assert line.endswith("1 scanned code not reported to the center (this home's scan log has "
                         "every scan)")
    (local,) = json.loads(result.stdout)
    assert local["verdict"] == "genuine" and local["serial"] == "1006"
    assert (local["checks"], local["center_verdict"], local["verdict_from"]) == (
        None, None, "local")
    assert _scans(home) == before + 1
