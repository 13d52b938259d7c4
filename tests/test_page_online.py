"""The phone page online, in headless Chromium against a real `jdzhi server` on 127.0.0.1: after
its own verdict the page reports the check (`POST /api/v1/scans`, source page) and shows the
center's count and clone findings in the verdict card; it asks before any location is sent; when the
center cannot be reached it keeps its verdict and says the count is unavailable; and the page as
`jdzhi page export` writes it (static hosting, `jdzhi serve`) reports nothing."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hardening_support import World, build_world, ok, run
from server_support import RunningServer, running_server, start_server
from test_page_browser import ARTIFACTS, REFUSE_WEBCRYPTO_ED25519, launched_chromium

from jdzhi.trace.page import serve
from jdzhi.trace.page.export import export_page

pytestmark = pytest.mark.browser

BASE = "HTTPS://TRACE.EXAMPLE.CN/V/"
SCANS = "/api/v1/scans"
#: the browser's clock: within the bundles' validity (build_world signs at 2026-03-10 09:00 CST)
PAGE_NOW = datetime(2026, 3, 11, tzinfo=UTC)
#: the server's clock (JDZHI_NOW of hardening_support) as the page shows it, China Standard Time
FIRST_CHECKED = "2026-03-10 09:00 (UTC+8)"
#: where the phone is: the page must send it rounded to 0.01 degree
POSITION = {"latitude": 29.271234, "longitude": 117.184567}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("page-online"), count=9)


def _publish(server: RunningServer, world: World) -> None:
    with server.client() as http:
        if http.get("/api/v1/trust").status_code == 404:
            published = http.post("/api/v1/trust", content=world.bundle.read_bytes(),
                                  headers={"content-type": "application/cbor"})
            assert published.status_code == 201, published.text


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[RunningServer]:
    with running_server(world.home.path, "--scan-rate-limit", "0") as running:
        _publish(running, world)
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with launched_chromium(tmp_path_factory.mktemp("fonts")) as chromium:
        yield chromium


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A fresh phone (its own localStorage) that has allowed this site its position: the page
    must still send none without a tap."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                  permissions=["geolocation"], geolocation=POSITION)
    yield context
    context.close()


class Tab:
    """One page of a phone: the scans it posted, its errors."""

    def __init__(self, context: Any) -> None:
        self.page = context.new_page()
        self.page.clock.set_fixed_time(PAGE_NOW)
        self.posted: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.console: list[str] = []
        self.page.on("request", self._request)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda m: self.console.append(m.text) if m.type == "error"
                     else None)

    def _request(self, request: Any) -> None:
        if request.url.endswith(SCANS):
            self.posted.append({"method": request.method, **request.post_data_json})

    def open(self, url: str) -> str:
        """Go to ``url``; the center box's state once the page is done with the center."""
        self.page.goto(url)
        return self.settled()

    def settled(self) -> str:
        self.page.wait_for_selector("#verdict[data-verdict]", timeout=20_000)
        self.page.wait_for_selector("#center:not([data-center='pending'])", timeout=20_000)
        return str(self.page.get_attribute("#center", "data-center"))

    def reload(self) -> str:
        self.page.reload()
        return self.settled()

    @property
    def verdict(self) -> str | None:
        found: str | None = self.page.get_attribute("#verdict", "data-verdict")
        return found

    def card(self) -> str:
        return str(self.page.inner_text("#verdict"))

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"online-{name}.png"), full_page=True)


def _url(server: RunningServer, label: str) -> str:
    assert label.startswith(BASE)
    return server.url + "/V/" + label[len(BASE):]


def _rows(world: World, serial: str) -> list[tuple[str, float | None, float | None, str]]:
    with sqlite3.connect(world.home.path / "registry.db") as db:
        rows = db.execute("SELECT location, latitude, longitude, label_text FROM page_scans "
                          "WHERE serial = ? ORDER BY id", [serial]).fetchall()
    db.close()
    return rows


def _label(world: World, index: int) -> tuple[str, str]:
    line = world.lines()[index]
    return str(line["label"]), str(1001 + index)


def test_the_page_reports_each_check_and_shows_the_count(
        world: World, server: RunningServer, phone: Any) -> None:
    label, serial = _label(world, 0)
    tab = Tab(phone)
    assert tab.open(_url(server, label)) == "counted"
    assert tab.verdict == "genuine"
    card = tab.card()
    assert f"第 1 次查询 · 首次查询于 {FIRST_CHECKED}" in card
    assert f"Checked 1 time, first on {FIRST_CHECKED}" in card
    assert tab.page.get_attribute("#center", "data-checks") == "1"
    # the question, never an answer taken for the person
    assert tab.page.get_attribute("#share", "data-share") == "ask"
    assert "Share my location to help detect copied labels?" in tab.page.inner_text("#share")
    assert "about 1 km" in tab.page.inner_text("#share")
    tab.shot("counted")
    assert tab.reload() == "counted"
    assert "第 2 次查询" in tab.card() and "Checked 2 times" in tab.card()
    assert tab.verdict == "genuine"
    # what was sent: the label's own text, source page, nothing about a location
    assert tab.posted == [{"method": "POST", "label": label, "source": "page"}] * 2
    assert _rows(world, serial) == [("", None, None, label)] * 2
    assert tab.errors == [] and tab.console == []  # e.g. no CSP violation
    with server.client() as http:
        assert http.get(f"/api/v1/serials/1/{serial}").json()["checks"] == 2


def test_consent_declined_sends_no_location(world: World, server: RunningServer,
                                            phone: Any) -> None:
    label, serial = _label(world, 1)
    tab = Tab(phone)
    tab.open(_url(server, label))
    tab.page.get_by_role("button", name="No thanks").click()
    assert tab.page.get_attribute("#share", "data-share") == "declined"
    assert tab.reload() == "counted"
    assert tab.page.get_attribute("#share", "data-share") == "declined"  # remembered, not asked
    assert [post.get("location") for post in tab.posted] == [None, None]
    assert [row[:3] for row in _rows(world, serial)] == [("", None, None)] * 2


def test_consent_given_sends_the_location_rounded_to_a_kilometre(
        world: World, server: RunningServer, phone: Any) -> None:
    label, serial = _label(world, 2)
    tab = Tab(phone)
    tab.open(_url(server, label))
    tab.page.get_by_role("button", name="Share my location").click()
    tab.page.wait_for_selector("#share[data-share='agreed']")
    assert "29.27,117.18" in tab.page.inner_text("#share")
    assert len(tab.posted) == 1  # this check went without it: no second report of it
    assert tab.reload() == "counted"
    assert tab.page.get_attribute("#share", "data-share") == "shared"
    assert "29.27,117.18" in tab.page.inner_text("#share")
    tab.shot("location-shared")
    assert [post.get("location") for post in tab.posted] == [None, "29.27,117.18"]
    assert [row[:3] for row in _rows(world, serial)] == [
        ("", None, None), ("29.27000,117.18000", 29.27, 117.18)]
    # and off again: the next check carries none
    tab.page.get_by_role("button", name="Stop sharing").click()
    tab.reload()
    assert tab.posted[-1].get("location") is None and tab.posted[-1]["label"] == label


def test_when_the_center_cannot_be_reached_the_verdict_stands(
        world: World, server: RunningServer, phone: Any) -> None:
    label, serial = _label(world, 3)
    limited = start_server(world.home.path, "--scan-rate-limit", "1")
    try:
        url = _url(limited, label)
        tab = Tab(phone)
        assert tab.open(url) == "counted"
        # a second scan within the minute: 429 from the rate limit
        assert tab.reload() == "unavailable"
        assert tab.page.get_attribute("#center", "data-why") == "HTTP 429"
        assert tab.verdict == "genuine" and "Genuine" in tab.card()
        assert "The check count is unavailable" in tab.card()
        assert tab.page.get_attribute("#share", "hidden") is not None  # nothing to share with
        tab.shot("unavailable")

        # the center goes away once the page has loaded: the report meets a closed port
        def stop_then_send(route: Any) -> None:
            limited.stop()
            route.continue_()

        tab.page.route(f"**{SCANS}", stop_then_send)
        assert tab.reload() == "unavailable"
        assert tab.verdict == "genuine" and "暂时无法获取查询次数" in tab.card()
        assert tab.page.get_attribute("#center", "data-why") != "HTTP 429"
        assert tab.errors == []
    finally:
        limited.stop()
    # a center that accepts the connection and never answers: the page gives up after 5 s
    tab.page.unroute(f"**{SCANS}")
    tab.page.route(f"**{SCANS}", lambda route: None)
    started = time.monotonic()
    assert tab.open(_url(server, label)) == "unavailable"
    assert time.monotonic() - started >= 4.5
    assert tab.page.get_attribute("#center", "data-why") == "timeout"
    assert tab.verdict == "genuine"
    assert len(_rows(world, serial)) == 1  # only the one the center answered


def _inspector_flags(world: World, server: RunningServer, label: str) -> None:
    token = json.loads(ok(run(world.home.path, "inspectors", "add", "insp-page",
                              "--json")).stdout)["token"]
    with server.client(headers={"Authorization": f"Bearer {token}"}) as http:
        for where in ("29.27,117.18", "39.90,116.40"):  # Jingdezhen, then Beijing at once
            answer = http.post(SCANS, json={"label": label, "source": "inspector",
                                            "location": where}).json()
    assert answer["verdict"] == "suspected-clone", answer


def test_a_clone_warning_from_anonymous_checks_is_shown_as_a_caution(
        world: World, server: RunningServer, browser: Any) -> None:
    label, _ = _label(world, 4)
    with server.client() as http:  # four people in four cities (a proxy on 127.0.0.1 says who)
        for n, city in enumerate(("Beijing", "Shanghai", "Guangzhou", "Chengdu"), start=1):
            answer = http.post(SCANS, json={"label": label, "source": "page", "location": city},
                               headers={"X-Forwarded-For": f"203.0.113.{n}"}).json()
            assert answer["verdict"] == "genuine"
    narrow = browser.new_context(viewport={"width": 320, "height": 640}, locale="zh-CN")
    try:
        tab = Tab(narrow)
        assert tab.open(_url(server, label)) == "counted"
        assert tab.page.get_attribute("#center", "data-clone") == "warning"
        assert tab.verdict == "genuine"
        card = tab.card()
        assert "第 5 次查询" in card and "Caution: different people" in card
        assert "not confirmed by an inspector" in card and "confirmed by the registry" not in card
        assert "seen at 4 distinct locations" in card  # the center's own words (this one: no place)
        # a narrow phone: nothing wider than the screen
        assert tab.page.evaluate("document.documentElement.scrollWidth") <= 320
        tab.shot("clone-warning-320px")
    finally:
        narrow.close()


def test_an_inspector_confirmed_clone_is_worded_as_one(
        world: World, server: RunningServer, phone: Any) -> None:
    label, _ = _label(world, 5)
    _inspector_flags(world, server, label)
    tab = Tab(phone)
    assert tab.open(_url(server, label)) == "counted"
    assert tab.page.get_attribute("#center", "data-clone") == "suspected"
    card = tab.card()
    assert "Suspected clone, confirmed by the registry's inspectors" in card
    assert "疑似克隆（稽查员已确认）" in card
    assert "inspectors flagged this serial" in card  # the center's own words
    assert "Caution" not in card
    assert tab.verdict == "genuine"  # the signature is the page's finding; the clone, the center's
    assert "第 3 次查询" in card  # two inspector scans and this one
    tab.shot("clone-suspected")


def test_the_exported_page_reports_nothing(world: World, server: RunningServer, phone: Any,
                                           tmp_path: Path) -> None:
    label, serial = _label(world, 6)
    site = tmp_path / "site"
    export_page(world.home, site, bundle=world.bundle)
    assert '<meta name="jdzhi-scans" content="">' in (site / "index.html").read_text("utf-8")
    with httpx.Client(base_url=server.url) as http:
        served = http.get("/V/" + label[len(BASE):]).text
    assert '<meta name="jdzhi-scans" content="/api/v1/scans">' in served
    requests: list[str] = []
    phone.on("request", lambda request: requests.append(request.url))
    with serve.start_server(site, 0) as local:
        page = phone.new_page()
        page.clock.set_fixed_time(PAGE_NOW)
        page.goto(local.label_url(label, BASE))
        page.wait_for_selector("#verdict[data-verdict]", timeout=20_000)
        page.wait_for_load_state("networkidle")
        assert page.get_attribute("#verdict", "data-verdict") == "genuine"
        assert page.locator("#center").count() == 0
        assert page.get_attribute("#share", "hidden") is not None
    assert requests and not [url for url in requests if "/api/" in url]
    assert {url.rsplit("/", 1)[-1] for url in requests if not url.startswith(
        local.url + "/V/")} == {"verify.js", "report.js", "style.css", "trust.cbor"}
    assert _rows(world, serial) == []


def test_without_webcrypto_ed25519_the_page_still_reports(
        world: World, server: RunningServer, browser: Any) -> None:
    label, serial = _label(world, 7)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    context.add_init_script(REFUSE_WEBCRYPTO_ED25519)
    try:
        tab = Tab(context)
        assert tab.open(_url(server, label)) == "counted"
        assert tab.page.get_attribute("html", "data-ed25519") == "noble-ed25519"
        assert tab.verdict == "genuine" and "第 1 次查询" in tab.card()
    finally:
        context.close()
    assert len(_rows(world, serial)) == 1


def test_a_forged_label_is_reported_with_its_own_verdict(
        world: World, server: RunningServer, phone: Any) -> None:
    label, _ = _label(world, 8)
    position = len(BASE) + 40
    forged = label[:position] + ("B" if label[position] != "B" else "C") + label[position + 1:]
    tab = Tab(phone)
    assert tab.open(_url(server, forged)) == "reported"  # the center knows no serial of it
    assert "reported to the traceability center" in tab.card()
    assert tab.verdict == "tampered"
    assert tab.posted[0]["label"] == forged
    with sqlite3.connect(world.home.path / "registry.db") as db:
        (verdict,) = db.execute("SELECT verdict FROM page_scans WHERE label_text = ?",
                                [forged]).fetchone()
    db.close()
    assert verdict == "tampered"

