"""`jdzhi page export` and `jdzhi serve`: the files, the pinned key, the server, the refusals.

(The page's behaviour in a browser is tested in test_page_browser.py.)
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import TEST_PASSPHRASE, Invoke
from trace_support import add_enterprise, issue_key, records, sign

from jdzhi.errors import ExitCode, InvalidInput
from jdzhi.home import Home
from jdzhi.timeutil import utc_now
from jdzhi.trace.formats.labels import DEFAULT_BASE_URL
from jdzhi.trace.formats.records import base64url
from jdzhi.trace.page.export import (
    AUTHORITY_PLACEHOLDER,
    EXPORTED_FILES,
    PAGE_FILES,
    SCANS_META,
    base_path,
    page_contents,
    page_source,
)
from jdzhi.trace.page.serve import start_server
from jdzhi.trace.trust.bundle import decode_bundle
from jdzhi.trace.verification.result import Verdict
from jdzhi.trace.verification.verifier import verify_label_text

NOW = "2026-03-10T09:00:00+08:00"


def _authority(cli: Invoke) -> str:
    result = cli("init", "--json")
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["authority_public_key"])


def _pinned(folder: Path) -> str:
    index = (folder / "index.html").read_text(encoding="utf-8")
    found = re.search(r'<meta name="jdzhi-authority" content="([^"]*)">', index)
    assert found is not None
    return found.group(1)


def _get(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


# --- the page files as shipped -------------------------------------------------------------------

def test_the_page_needs_nothing_from_elsewhere() -> None:
    for name in set(PAGE_FILES) - {"noble-ed25519.js"}:  # vendored: see test_page_browser.py
        text = page_source(name).decode("utf-8")
        assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text), name
        assert "@import" not in text and "<iframe" not in text, name
    script = page_source("verify.js").decode("utf-8")
    assert script.count("fetch(") == 1 and "`../${BUNDLE_FILE}`" in script
    index = page_source("index.html").decode("utf-8")
    assert AUTHORITY_PLACEHOLDER in index
    assert 'href="../style.css"' in index and 'src="../verify.js"' in index
    assert "default-src 'none'" in index and 'aria-live="polite"' in index
    assert '<html lang="zh-Hans"' in index and 'lang="en"' in index


def test_only_a_page_given_a_scan_endpoint_reports_checks() -> None:
    """The page reports a check only where index.html names the center's endpoint, which
    `jdzhi server` does and an export does not; the endpoint is a path on the page's origin."""
    authority = bytes(range(32))
    offline = page_contents(authority)["index.html"].decode("utf-8")
    assert SCANS_META in offline and base64url(authority) in offline
    online = page_contents(authority, scans_url="/api/v1/scans")["index.html"].decode("utf-8")
    assert '<meta name="jdzhi-scans" content="/api/v1/scans">' in online
    assert SCANS_META not in online
    for elsewhere in ("https://evil.example/scans", "//evil.example/scans", "api/v1/scans"):
        with pytest.raises(InvalidInput, match="not a path on this origin"):
            page_contents(authority, scans_url=elsewhere)
    script = page_source("report.js").decode("utf-8")
    assert script.count("fetch(") == 1 and 'meta[name="jdzhi-scans"]' in script
    assert 'src="../report.js"' in page_source("index.html").decode("utf-8")


def test_base_path() -> None:
    assert base_path(DEFAULT_BASE_URL) == "/V/"
    assert base_path("HTTP://127.0.0.1:8000/A/V/") == "/A/V/"
    assert base_path("HTTPS://JDZ.CN/") == "/"


# --- page export ---------------------------------------------------------------------------------

def test_export_writes_the_page_with_the_authority_pinned(
    cli: Invoke, jdzhi_home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JDZHI_PASSPHRASE", TEST_PASSPHRASE)
    monkeypatch.setenv("JDZHI_NOW", NOW)
    authority = _authority(cli)
    site = tmp_path / "site"
    result = cli("page", "export", str(site), "--valid-days", "7", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary == {
        "path": str(site), "files": list(EXPORTED_FILES),
        "bundle_bytes": (site / "trust.cbor").stat().st_size,
        "issued_at": "2026-03-10T01:00:00Z", "expires_at": "2026-03-17T01:00:00Z",
        "bases": [DEFAULT_BASE_URL], "page_paths": ["/V/"], "authority_public_key": authority,
    }
    assert sorted(path.name for path in site.iterdir()) == sorted(EXPORTED_FILES)
    assert _pinned(site) == authority
    assert (site / "verify.js").read_bytes() == page_source("verify.js")
    trust = decode_bundle((site / "trust.cbor").read_bytes(), _raw(authority),
                          now=datetime(2026, 3, 11, tzinfo=UTC))
    assert trust.bases == (DEFAULT_BASE_URL,)
    human = cli("page", "export", str(tmp_path / "other"))
    assert human.exit_code == 0
    assert "Wrote the verification page" in human.stdout and "/V/*" in human.stdout


def test_export_publishes_an_existing_bundle_unchanged(
    cli: Invoke, initialized: Home, tmp_path: Path
) -> None:
    bundle = tmp_path / "trust-2026-03.cbor"
    assert cli("trust", "export", "--out", str(bundle)).exit_code == 0
    site = tmp_path / "site"
    result = cli("page", "export", str(site), "--trust", str(bundle), "--json")
    assert result.exit_code == 0, result.output
    assert (site / "trust.cbor").read_bytes() == bundle.read_bytes()


def test_export_refusals_leave_nothing_behind(
    cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    bundle = tmp_path / "trust.cbor"
    assert cli("trust", "export", "--out", str(bundle)).exit_code == 0
    altered = bytearray(bundle.read_bytes())
    altered[-5] ^= 0x01
    forged = tmp_path / "forged.cbor"
    forged.write_bytes(bytes(altered))
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")
    garbage = tmp_path / "garbage.cbor"
    garbage.write_bytes(b"\xff" * 40)
    cases = [
        (["--trust", str(forged)], site, ExitCode.INTEGRITY, "not signed by the authority"),
        (["--trust", str(garbage)], site, ExitCode.INTEGRITY, "damaged or not a bundle"),
        (["--trust", str(tmp_path / "none.cbor")], site, ExitCode.INVALID_INPUT,
         "cannot read trust bundle"),
        (["--authority", "nonsense", "--trust", str(bundle)], site, ExitCode.INVALID_INPUT,
         "neither 64 hex digits"),
        (["--authority", base64url(bytes(32)), "--trust", str(bundle)], site,
         ExitCode.INTEGRITY, "not signed by the authority"),
        ([], not_a_folder, ExitCode.USAGE, ""),
        ([], tmp_path / "missing" / "site", ExitCode.INVALID_INPUT, "does not exist"),
        (["--valid-days", "0"], site, ExitCode.INVALID_INPUT, "1 to 366 days"),
    ]
    for extra, target, code, message in cases:
        result = cli("page", "export", str(target), *extra)
        assert result.exit_code == code, (extra, result.output)
        assert message in result.stderr
        if message:
            assert len(result.stderr.strip().splitlines()) == 1
        assert not site.exists()
    monkeypatch.setenv("JDZHI_PASSPHRASE", "wrong passphrase")
    wrong = cli("page", "export", str(site))
    assert wrong.exit_code == ExitCode.KEY_ERROR and not site.exists()


def test_export_needs_an_initialized_home(cli: Invoke, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JDZHI_PASSPHRASE", TEST_PASSPHRASE)
    result = cli("page", "export", str(tmp_path / "site"))
    assert result.exit_code == ExitCode.NOT_INITIALIZED
    assert not (tmp_path / "site").exists()


def test_a_non_empty_folder_is_replaced_only_with_force(
    cli: Invoke, initialized: Home, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "robots.txt").write_text("User-agent: *\n")
    (site / "index.html").write_text("old page")
    refused = cli("page", "export", str(site))
    assert refused.exit_code == ExitCode.CONFLICT and "--force" in refused.stderr
    assert (site / "index.html").read_text() == "old page"
    assert sorted(p.name for p in site.iterdir()) == ["index.html", "robots.txt"]
    assert cli("page", "export", str(site), "--force").exit_code == 0
    assert (site / "robots.txt").read_text() == "User-agent: *\n"
    assert AUTHORITY_PLACEHOLDER not in (site / "index.html").read_text()
    assert sorted(p.name for p in site.iterdir()) == sorted([*EXPORTED_FILES, "robots.txt"])


# --- the server ----------------------------------------------------------------------------------

@pytest.fixture
def site(cli: Invoke, initialized: Home, tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    assert cli("page", "export", str(folder)).exit_code == 0
    return folder


def test_the_server_answers_label_paths_with_the_page(site: Path) -> None:
    with start_server(site, 0) as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        label_url = server.label_url(DEFAULT_BASE_URL + "A" * 124, DEFAULT_BASE_URL)
        assert label_url == server.url + "/V/" + "A" * 124
        status, headers, body = _get(label_url + "?x=1")
        assert status == 200 and body == (site / "index.html").read_bytes()
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Content-Type-Options"] == "nosniff"
        for path, kind in (("/verify.js", "text/javascript"), ("/style.css", "text/css"),
                           ("/trust.cbor", "application/cbor")):
            status, headers, body = _get(server.url + path)
            assert status == 200 and headers["Content-Type"].startswith(kind)
            assert body == (site / path[1:]).read_bytes()
        assert _get(server.url + "/")[2] == (site / "index.html").read_bytes()
        status, headers, body = _get(server.url + "/V/X", method="HEAD")
        assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0
        assert _get(server.url + "/V/X", method="POST")[0] == 501


def test_the_server_refuses_a_folder_that_is_not_a_valid_export(site: Path,
                                                               tmp_path: Path) -> None:
    from jdzhi.errors import Conflict, IntegrityError, InvalidInput

    with pytest.raises(InvalidInput, match="not an exported page"):
        start_server(tmp_path, 0)
    with pytest.raises(InvalidInput, match="is not a folder"):
        start_server(tmp_path / "none", 0)
    with start_server(site, 0) as server, pytest.raises(Conflict, match="cannot listen"):
        start_server(site, server.port)
    index, pinned = (site / "index.html").read_text(encoding="utf-8"), _pinned(site)
    (site / "index.html").write_text(index.replace(pinned, base64url(bytes(range(32)))))
    with pytest.raises(IntegrityError, match="not signed by the authority"):
        start_server(site, 0)
    (site / "index.html").write_text(index.replace(pinned, "nope"))
    with pytest.raises(InvalidInput, match="no authority public key"):
        start_server(site, 0)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_command_serves_until_stopped(site: Path, initialized: Home,
                                            stop: signal.Signals) -> None:
    """`jdzhi serve` as a user runs it: a real process, stopped with Ctrl-C or `kill`."""
    env = {**os.environ, "JDZHI_HOME": str(initialized.path), "JDZHI_PASSPHRASE": TEST_PASSPHRASE}
    process = subprocess.Popen(
        [sys.executable, "-m", "jdzhi", "serve", "--port", "0", "--json"], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = []
        while not lines or lines[-1] != "}\n":
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else ""
            lines.append(line)
        started = json.loads("".join(lines))
        assert started["page_urls"] == [started["url"] + "/V/"]
        status, _, body = _get(started["page_urls"][0] + "A" * 124)
        assert status == 200 and b"jdzhi-authority" in body
        status, _, bundle = _get(started["url"] + "/trust.cbor")
        trust = decode_bundle(bundle, _raw(_pinned_text(body)), now=_now())
        assert trust.bases == (DEFAULT_BASE_URL,)
    finally:
        process.send_signal(stop)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert not Path(started["dir"]).exists()  # its temporary export is gone


def _pinned_text(index: bytes) -> str:
    found = re.search(rb'name="jdzhi-authority" content="([A-Za-z0-9_-]{43})"', index)
    assert found is not None
    return found.group(1).decode()


def _raw(key: str) -> bytes:
    return base64.urlsafe_b64decode(key + "=")


def _now() -> datetime:
    return utc_now()


def test_serve_refusals(cli: Invoke, initialized: Home, site: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("serve", "--dir", str(empty), "--port", "0")
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "not an exported page (missing index.html" in result.stderr
    assert cli("serve", "--port", "70000").exit_code == ExitCode.USAGE
    with start_server(site, 0) as server:
        busy = cli("serve", "--dir", str(site), "--port", str(server.port))
    assert busy.exit_code == ExitCode.CONFLICT and "cannot listen on" in busy.stderr


def test_labels_signed_here_verify_in_python_against_the_exported_bundle(
    cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exported bundle is what the page trusts: the Python verifier agrees with it."""
    monkeypatch.setenv("JDZHI_NOW", NOW)
    add_enterprise(cli)
    key = issue_key(cli, tmp_path)
    out, _ = sign(cli, tmp_path, key, records(1))
    label = json.loads(out.read_text().splitlines()[0])["label"]
    site = tmp_path / "site"
    assert cli("page", "export", str(site)).exit_code == 0
    trust = decode_bundle((site / "trust.cbor").read_bytes(), _raw(_pinned(site)), now=_now())
    assert verify_label_text(label, trust).verdict is Verdict.GENUINE
