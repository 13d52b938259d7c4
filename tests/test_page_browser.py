"""The verification page in headless Chromium: the same verdicts as `jdzhi verify`, label by label.

One registry (built once for the module through the real CLI: enterprises, keys, signed batches, a
lab endorsement, a license revoked and one suspended after the fact) and one browser; each case
opens its own page at the label's own path on a `jdzhi.trace.page.export` server, waits for
`data-verdict`, compares it with `jdzhi verify --json` on the same label text, and saves a
screenshot under test-artifacts/page/. Every verdict is checked twice: with Chromium's WebCrypto
Ed25519, and with it removed (as in browsers before it), where the page falls back to the vendored
noble-ed25519.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import string
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_PASSPHRASE, Invoke
from typer.testing import CliRunner

from jdzhi.cli import app
from jdzhi.errors import ExitCode
from jdzhi.home import Home
from jdzhi.registry.uscc import generate
from jdzhi.timeutil import unix_time
from jdzhi.trace.formats.base32 import base32_decode, base32_encode
from jdzhi.trace.formats.labels import DEFAULT_BASE_URL, Label, LabelFields
from jdzhi.trace.formats.records import base64url
from jdzhi.trace.keys.keyfile import from_seed, load_key
from jdzhi.trace.page.export import PAGE_FILES, export_page
from jdzhi.trace.page.serve import PageServer, start_server
from jdzhi.trace.verification.verifier import load_trust, verify_label_text

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "page"
STATIC = Path(__file__).resolve().parents[1] / "jdzhi" / "trace" / "page" / "static"
#: the page's Ed25519 verifiers (`<html data-ed25519>`): WebCrypto's, or the vendored one
VERIFIERS = ("webcrypto", "noble-ed25519")
#: an init script making WebCrypto refuse Ed25519 as browsers without it do (older Safari and
#: Android WebViews, Chrome before 137)
REFUSE_WEBCRYPTO_ED25519 = (
    "const importKey = crypto.subtle.importKey.bind(crypto.subtle);"
    "crypto.subtle.importKey = (format, data, algorithm, ...rest) =>"
    " (algorithm && (algorithm === 'Ed25519' || algorithm.name === 'Ed25519'))"
    " ? Promise.reject(new DOMException('Unrecognized name', 'NotSupportedError'))"
    " : importKey(format, data, algorithm, ...rest);")
VECTORS = json.loads((Path(__file__).parent / "vectors" / "format-v1.json").read_text("utf-8"))

T0 = "2026-03-10T09:00:00+08:00"
T1 = "2026-04-01T09:00:00+08:00"
T2 = "2026-05-01T09:00:00+08:00"
#: the English headline each verdict shows (the Chinese one sits above it)
HEADLINES = {
    "genuine": "Genuine", "tampered": "Tampered or forged", "unknown-key": "Unknown signing key",
    "revoked": "Revoked", "suspended": "Suspended", "expired": "Expired",
    "malformed": "Not a valid Jingdezhen Zhi label", "unsupported": "cannot verify",
    "error": "Cannot verify", "recalled": "Recalled",
}
RECALL_REASON = "cloned serial found on market stalls"


# --- the registry, built once through the CLI ------------------------------------------------

@dataclass(frozen=True)
class World:
    home: Path
    site: Path
    #: case name -> (label text, the verdict the rules give)
    cases: dict[str, tuple[str, str]]


def _run(runner: CliRunner, home: Path, *args: str) -> dict[str, Any] | list[Any] | None:
    result = runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
    return json.loads(result.stdout) if "--json" in args else None


def _add(runner: CliRunner, home: Path, seed: int, license_no: str, name: str) -> None:
    _run(runner, home, "registry", "add", "--uscc",
         generate(random.Random(seed), division_code="360203"), "--name", name,
         "--district", "珠山区", "--license-no", license_no, "--categories", "qinghua,fencai",
         "--valid-from", "2026-01-01", "--valid-to", "2030-12-31")


def _sign(runner: CliRunner, home: Path, key: Path, serial: int, batch: str) -> str:
    source = key.parent / f"{serial}.csv"
    source.write_text(f"serial,batch,category,production_date\n{serial},{batch},qinghua,"
                      "2026-03-01\n", encoding="utf-8")
    out = key.parent / f"{serial}.jsonl"
    _run(runner, home, "sign", str(source), "--key", str(key), "--out", str(out))
    return str(json.loads(out.read_text(encoding="utf-8").splitlines()[0])["label"])


def _label(signer: Any, key_id: int, serial: int, signed_at: int, category: int = 1) -> str:
    fields = LabelFields(key_id, serial, signed_at, category)
    return Label(fields, signer.sign(fields.signing_input())).text(DEFAULT_BASE_URL)


def _with_payload(payload: bytes) -> str:
    return DEFAULT_BASE_URL + base32_encode(payload)


def _changed(text: str, index: int) -> str:
    """The label with the payload character at ``index`` replaced by another base32 one."""
    position = len(DEFAULT_BASE_URL) + index
    other = "B" if text[position] != "B" else "C"
    return text[:position] + other + text[position + 1:]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("page-world")
    home = root / "home"
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("JDZHI_PASSPHRASE", TEST_PASSPHRASE)
        env.setenv("JDZHI_KEY_PASSPHRASE", TEST_PASSPHRASE)
        env.setenv("JDZHI_ACTOR", "test-operator")
        env.setenv("JDZHI_NOW", T0)
        _run(runner, home, "init")
        _add(runner, home, 5, "JDZ-GI-2026-0001", "景德镇市青云陶瓷有限公司")
        _add(runner, home, 6, "JDZ-GI-2026-0002", "景德镇市昌南窑瓷业有限公司")
        _add(runner, home, 7, "JDZ-GI-2026-0003", "景德镇市浮梁青白瓷工作室")
        keys = {}
        for license_no, name in (("JDZ-GI-2026-0001", "a"), ("JDZ-GI-2026-0002", "b"),
                                 ("JDZ-GI-2026-0003", "c")):
            keys[name] = root / f"{name}.key"
            _run(runner, home, "keys", "issue", license_no, "--out", str(keys[name]))
        genuine = _sign(runner, home, keys["a"], 1001, "B1")
        recalled_old_key = _sign(runner, home, keys["a"], 1006, "B1")
        endorsed = _sign(runner, home, keys["a"], 1002, "B2")
        lab_key = root / "lab.key"
        _run(runner, home, "lab", "add", "国家日用陶瓷质量检验检测中心", "--accreditation",
             "CNAS-L0001", "--out", str(lab_key))
        results = root / "pbcd.csv"
        results.write_text("ware_class,pb,cd\nflat,0.10,0.01\n", encoding="utf-8")
        _run(runner, home, "lab", "endorse", "JDZ-GI-2026-0001", "B2", "--results",
             str(results), "--key", str(lab_key), "--report-no", "JDZ-T-2026-0142")
        before_revocation = _sign(runner, home, keys["b"], 5001, "B1")
        env.setenv("JDZHI_NOW", T1)
        after_revocation = _sign(runner, home, keys["b"], 5002, "B2")
        while_suspended = _sign(runner, home, keys["c"], 7001, "B1")
        env.setenv("JDZHI_NOW", T2)  # the violations are found later, effective in the past
        _run(runner, home, "registry", "revoke", "JDZ-GI-2026-0002", "--reason",
             "counterfeit marks", "--effective", "2026-03-20T00:00:00")
        _run(runner, home, "registry", "suspend", "JDZ-GI-2026-0003", "--reason",
             "spot check failed", "--effective", "2026-03-25T00:00:00")
        keys["a2"] = root / "a2.key"  # key 1 is replaced now: it must not sign from now on
        _run(runner, home, "keys", "rotate", "JDZ-GI-2026-0001", "--out", str(keys["a2"]))
        rotated = _sign(runner, home, keys["a2"], 1003, "B3")
        recalled = _sign(runner, home, keys["a2"], 1004, "B4")
        recalled_batch = _sign(runner, home, keys["a2"], 1005, "B5")
        _run(runner, home, "recall", "JDZ-GI-2026-0001", "--serials", "1004,1006", "--reason",
             RECALL_REASON)
        _run(runner, home, "recall", "JDZ-GI-2026-0001", "--batch", "B5", "--reason",
             "lead release above the limit")
    workshop = load_key(keys["a"], TEST_PASSPHRASE.encode())
    stranger = from_seed(bytes(range(32)))
    late = unix_time(datetime(2031, 6, 1, tzinfo=UTC))
    recent = unix_time(datetime(2026, 6, 1, tzinfo=UTC))  # after the rotation
    before_rotation = unix_time(datetime(2026, 4, 15, tzinfo=UTC))
    payload = base32_decode(genuine[len(DEFAULT_BASE_URL):])
    text = genuine[len(DEFAULT_BASE_URL):]
    cases: dict[str, tuple[str, str]] = {
        "genuine": (genuine, "genuine"),
        "genuine-endorsed": (endorsed, "genuine"),
        "revoked-signed-before": (before_revocation, "genuine"),
        "revoked-signed-after": (after_revocation, "revoked"),
        "suspended": (while_suspended, "suspended"),
        "expired-key-used-late": (_label(workshop, 1, 1009, late), "expired"),
        "unknown-key": (_label(stranger, 777, 1001, recent), "unknown-key"),
        "unknown-category": (_label(workshop, 1, 1010, before_rotation, category=200),
                             "unknown-key"),
        "replaced-key-used-after": (_label(workshop, 1, 1011, recent), "expired"),
        "genuine-new-key": (rotated, "genuine"),
        "recalled-serial": (recalled, "recalled"),
        "recalled-batch": (recalled_batch, "recalled"),
        "recalled-signed-by-a-replaced-key": (recalled_old_key, "recalled"),
        "recalled-but-tampered": (_changed(recalled, 40), "tampered"),
        "impostor": (_label(stranger, 1, 1001, recent), "tampered"),
        **{f"tampered-char-{index}": (_changed(genuine, index), "tampered")
           for index in (10, 40, 77, 111)},
        "malformed-short": (DEFAULT_BASE_URL + "HELLO", "malformed"),
        "malformed-long": (DEFAULT_BASE_URL + "A" * 500, "malformed"),
        "malformed-lowercase": (DEFAULT_BASE_URL + text.lower(), "malformed"),
        "malformed-padding": (genuine + "====", "malformed"),
        "malformed-truncated": (genuine[:-1], "malformed"),
        "malformed-spare-bits": (genuine[:-1] + chr(ord(genuine[-1]) + 1), "malformed"),
        "malformed-version-2": (_with_payload(b"\x02" + payload[1:]), "malformed"),
        "malformed-key-id-0": (_with_payload(payload[:1] + b"\0\0" + payload[3:]), "malformed"),
        "malformed-query": (genuine + "?X=1", "malformed"),
        "malformed-fragment": (genuine + "#", "malformed"),
        "malformed-percent": (DEFAULT_BASE_URL + "%41" + text[1:], "malformed"),
    }
    site = root / "site"
    export_page(Home(home), site, passphrase=TEST_PASSPHRASE.encode())
    yield World(home, site, cases)


# --- the browser -------------------------------------------------------------------------------

def font_config(folder: Path) -> dict[str, str]:
    """Let Chromium find a CJK font (Noto Sans SC, a jdzhi dependency) for the screenshots."""
    try:
        import pylopdf_fonts_zh_cn
    except ImportError:
        return {}
    config = folder / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        f"  <dir>{Path(pylopdf_fonts_zh_cn.sans_path()).parent}</dir>\n"
        f"  <cachedir>{folder / 'cache'}</cachedir>\n</fontconfig>\n", encoding="utf-8")
    return {"FONTCONFIG_FILE": str(config)}


@contextmanager
def launched_chromium(fonts: Path) -> Iterator[Any]:
    """Debian's Chromium through Playwright, with the label font (skips when either is missing)."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (scripts/test installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    env = {**os.environ, **font_config(fonts)}
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                              env=env)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with launched_chromium(tmp_path_factory.mktemp("fonts")) as chromium:
        yield chromium


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[PageServer]:
    with start_server(world.site, 0) as running:
        yield running


@dataclass
class Opened:
    verdict: str | None
    text: str
    headline_visible: bool
    headline: str
    errors: list[str]
    endorsement: str | None = None
    verifier: str | None = None


@pytest.fixture(scope="module")
def phone(browser: Any) -> Iterator[Any]:
    """A phone-sized browser context shared by the module's pages (one page per case)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    yield context
    context.close()


@pytest.fixture(scope="module")
def phone_without_webcrypto_ed25519(browser: Any) -> Iterator[Any]:
    """A phone whose WebCrypto refuses Ed25519: the page must verify with noble-ed25519."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    context.add_init_script(REFUSE_WEBCRYPTO_ED25519)
    yield context
    context.close()


def _phone(request: pytest.FixtureRequest, verifier: str) -> Any:
    return request.getfixturevalue(
        "phone" if verifier == "webcrypto" else "phone_without_webcrypto_ed25519")


def _open(context: Any, url: str, shot: str, *, check: Any = None,
          now: datetime | None = None) -> Opened:
    """Open ``url`` in a new page (the clock of its whole context fixed at ``now`` if given: give
    such a context to no other test), wait for the verdict, screenshot it."""
    page = context.new_page()
    try:
        if now is not None:
            page.clock.set_fixed_time(now)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(url)
        page.wait_for_selector("#verdict[data-verdict]", timeout=20_000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)
        headline = page.locator("#verdict .headline")
        opened = Opened(page.get_attribute("#verdict", "data-verdict"), page.inner_text("body"),
                        headline.is_visible() and headline.bounding_box() is not None,
                        headline.inner_text(), errors,
                        page.get_attribute("[data-endorsement]", "data-endorsement")
                        if page.locator("[data-endorsement]").count() else None,
                        page.get_attribute("html", "data-ed25519"))
        if check is not None:
            check(page)
        return opened
    finally:
        page.close()


def _cli_verdict(cli: Invoke, world: World, label: str, *extra: str) -> tuple[str, str]:
    """`jdzhi verify --json`: the verdict and the endorsement status."""
    result = cli("--home", str(world.home), "verify", label, "--json", *extra)
    assert result.exit_code == (0 if '"genuine"' in result.stdout else 1), result.output
    (entry,) = json.loads(result.stdout)
    return str(entry["verdict"]), str(entry["endorsement"]["status"])


CASE_NAMES = [
    "genuine", "genuine-endorsed", "revoked-signed-before", "revoked-signed-after", "suspended",
    "expired-key-used-late", "replaced-key-used-after", "genuine-new-key", "unknown-key",
    "unknown-category", "impostor", "recalled-serial", "recalled-batch",
    "recalled-signed-by-a-replaced-key", "recalled-but-tampered",
    "tampered-char-10", "tampered-char-40", "tampered-char-77", "tampered-char-111",
    "malformed-short", "malformed-long", "malformed-lowercase", "malformed-padding",
    "malformed-truncated", "malformed-spare-bits", "malformed-version-2", "malformed-key-id-0",
    "malformed-query", "malformed-fragment", "malformed-percent",
]


@pytest.mark.parametrize("verifier", VERIFIERS)
@pytest.mark.parametrize("case", CASE_NAMES)
def test_page_gives_the_verdict_of_jdzhi_verify(case: str, verifier: str, cli: Invoke,
                                               world: World, server: PageServer,
                                               request: pytest.FixtureRequest) -> None:
    label, expected = world.cases[case]
    verdict, endorsement = _cli_verdict(cli, world, label)
    assert verdict == expected
    # the bundle the page uses, verified offline by the CLI
    assert _cli_verdict(cli, world, label, "--trust", str(world.site / "trust.cbor")) == (
        verdict, endorsement)
    opened = _open(_phone(request, verifier), server.label_url(label, DEFAULT_BASE_URL),
                   f"{case}-{verifier}")
    assert opened.verifier == verifier
    assert opened.verdict == expected
    assert (opened.endorsement or "none") == endorsement
    assert opened.headline_visible and HEADLINES[expected] in opened.headline
    assert opened.errors == []
    # facts from a label whose signature did not verify are shown as claims, never as facts
    unverified = expected == "tampered" or case == "unknown-key"  # no certified key checked it
    assert ("What the label claims" in opened.text) == unverified


def test_a_recalled_label_shows_the_reason_styled_like_revoked(
        world: World, server: PageServer, phone: Any) -> None:
    label, _ = world.cases["recalled-serial"]
    colours: list[str] = []

    def background(page: Any) -> None:
        colours.append(page.eval_on_selector(
            "#verdict", "node => getComputedStyle(node).backgroundColor"))

    revoked = _open(phone, server.label_url(world.cases["revoked-signed-after"][0],
                                            DEFAULT_BASE_URL), "revoked-colour", check=background)
    opened = _open(phone, server.label_url(label, DEFAULT_BASE_URL), "recalled-reason",
                   check=background)
    assert revoked.verdict == "revoked" and opened.verdict == "recalled"
    assert f"Recalled: {RECALL_REASON} (this serial, effective" in opened.text
    assert f"已召回：{RECALL_REASON}" in opened.text
    assert colours[0] == colours[1]


def test_every_case_built_is_checked(world: World) -> None:
    assert sorted(world.cases) == sorted(CASE_NAMES)


@pytest.mark.slow
def test_random_single_character_changes_get_the_same_verdict_in_both(
    world: World, server: PageServer, phone: Any
) -> None:
    """Any character a QR code can hold (and lowercase), anywhere in the payload: the page and
    the Python verifier behind `jdzhi verify` agree on every one (none of them is genuine)."""
    trust = load_trust(home=Home(world.home))
    label, _ = world.cases["genuine"]
    alphabet = string.digits + string.ascii_uppercase + " $%*+-:" + string.ascii_lowercase
    chooser = random.Random(20261121)
    page = phone.new_page()
    try:
        seen = set()
        for _ in range(20):
            position = len(DEFAULT_BASE_URL) + chooser.randrange(124)
            char = chooser.choice([c for c in alphabet if c != label[position]])
            changed = label[:position] + char + label[position + 1:]
            expected = str(verify_label_text(changed, trust).verdict)
            assert expected != "genuine"
            page.goto(server.label_url(changed, DEFAULT_BASE_URL).replace(" ", "%20"))
            page.wait_for_selector("#verdict[data-verdict]", timeout=20_000)
            assert page.get_attribute("#verdict", "data-verdict") == expected, changed
            seen.add(expected)
        assert {"tampered", "malformed"} <= seen
    finally:
        page.close()


def test_genuine_page_shows_the_facts(world: World, server: PageServer, phone: Any) -> None:
    label, _ = world.cases["genuine-endorsed"]
    opened = _open(phone, server.label_url(label, DEFAULT_BASE_URL), "facts-endorsed")
    for shown in ("景德镇市青云陶瓷有限公司", "1002", "JDZ-GI-2026-0001", "青花",
                  "2026-03-10 09:00 (UTC+8)", "检测合格", "Tested: pass", "GB 4806.4-2016",
                  "国家日用陶瓷质量检验检测中心", "JDZ-T-2026-0142", "Trust data issued"):
        assert shown in opened.text
    assert "expired" not in opened.text.split("Trust data issued")[1].lower()


def test_signed_before_a_revocation_says_so(world: World, server: PageServer,
                                            phone: Any) -> None:
    label, _ = world.cases["revoked-signed-before"]
    opened = _open(phone, server.label_url(label, DEFAULT_BASE_URL), "reasons-revoked-later")
    assert opened.verdict == "genuine"
    assert "has since been revoked" in opened.text and "counterfeit marks" in opened.text
    label, _ = world.cases["revoked-signed-after"]
    opened = _open(phone, server.label_url(label, DEFAULT_BASE_URL), "reasons-revoked")
    assert "2026-03-20 00:00 (UTC+8): counterfeit marks" in opened.text
    assert "景德镇市昌南窑瓷业有限公司" in opened.text


def test_a_stale_bundle_cannot_confirm_a_good_label(
    world: World, phone: Any, tmp_path: Path
) -> None:
    """Past the bundle's expiry a good signature is stale-trust (it was genuine), in amber."""
    site = tmp_path / "stale"
    export_page(Home(world.home), site, passphrase=TEST_PASSPHRASE.encode(), valid_days=1,
                now=datetime(2026, 5, 1, tzinfo=UTC))
    label, _ = world.cases["genuine"]
    colours: list[str] = []

    def check(page: Any) -> None:
        page.wait_for_selector("[data-stale]")
        colours.append(page.eval_on_selector("#verdict",
                                             "e => getComputedStyle(e).backgroundColor"))

    with start_server(site, 0) as stale:
        opened = _open(phone, stale.label_url(label, DEFAULT_BASE_URL), "stale-bundle",
                       check=check)
    assert opened.verdict == "stale-trust" and colours == ["rgb(240, 160, 32)"]  # amber
    assert "the trust data has expired" in opened.text and "2026-05-02" in opened.text
    assert "Cannot confirm: trust data expired on 2026-05-02" in opened.text
    assert "无法确认：可信数据已于 2026-05-02" in opened.text
    assert "fetch a fresh one" in opened.text


def test_the_published_known_answers(browser: Any, tmp_path: Path) -> None:
    """docs/format.md's vectors (another implementation's bundle and labels) in the page, in a
    context of its own: a page's fixed clock is its whole context's (Playwright)."""
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    bundle = tmp_path / "vectors.cbor"
    bundle.write_bytes(bytes.fromhex(VECTORS["bundle"]["cose_sign1_hex"]))
    site = tmp_path / "site"
    export_page(Home(tmp_path / "no-home"), site, bundle=bundle,
                authority=bytes.fromhex(VECTORS["keys"]["authority_public"]))
    with start_server(site, 0) as running:
        for number, case in enumerate(VECTORS["verdict_cases"]):
            # the label's own path (one case is all lowercase: its payload stays lowercase)
            url = running.url + "/V/" + case["label"][len(DEFAULT_BASE_URL):]
            # at the case's moment: the vectors' bundle expires on 2026-08-01
            opened = _open(phone, url, f"vector-{number}",
                           now=datetime.fromisoformat(case["now"]))
            assert opened.verdict == case["verdict"], case["name"]
    phone.close()


def test_without_webcrypto_ed25519_the_page_verifies_in_javascript(
    world: World, server: PageServer, phone_without_webcrypto_ed25519: Any
) -> None:
    label, _ = world.cases["genuine"]
    opened = _open(phone_without_webcrypto_ed25519, server.label_url(label, DEFAULT_BASE_URL),
                   "noble-ed25519")
    assert (opened.verdict, opened.verifier) == ("genuine", "noble-ed25519")
    assert "cannot check" not in opened.text and opened.errors == []


def test_without_webcrypto_at_all_the_page_says_so(world: World, server: PageServer,
                                                   browser: Any) -> None:
    # no crypto.subtle: no SHA-512 for noble-ed25519 either
    label, _ = world.cases["genuine"]
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        context.add_init_script(
            "Object.defineProperty(Crypto.prototype, 'subtle', { get: () => undefined });")
        opened = _open(context, server.label_url(label, DEFAULT_BASE_URL), "unsupported")
    finally:
        context.close()
    assert opened.verdict == "unsupported"
    assert "cannot check Ed25519 signatures" in opened.text and "Genuine" not in opened.text


def test_over_plain_http_the_page_asks_for_https(world: World, server: PageServer,
                                                 phone: Any) -> None:
    # an insecure origin (plain http, not loopback): browsers hide WebCrypto there
    page = phone.new_page()
    try:
        page.route("http://trace.example.test/**", lambda route: route.fulfill(
            response=route.fetch(url=server.url + "/" + route.request.url.split("/", 3)[3])))
        label, _ = world.cases["genuine"]
        page.goto("http://trace.example.test/V/" + label[len(DEFAULT_BASE_URL):])
        page.wait_for_selector("#verdict[data-verdict]", timeout=20_000)
        assert page.get_attribute("#verdict", "data-verdict") == "unsupported"
        assert "not opened over HTTPS" in page.inner_text("#verdict")
    finally:
        page.close()


def test_a_bundle_not_signed_by_the_pinned_authority_is_refused(
    world: World, phone: Any, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    export_page(Home(world.home), site, passphrase=TEST_PASSPHRASE.encode())
    label, _ = world.cases["genuine"]
    with start_server(site, 0) as running:
        url = running.label_url(label, DEFAULT_BASE_URL)
        bundle = bytearray((site / "trust.cbor").read_bytes())
        bundle[len(bundle) // 2] ^= 0x01  # altered after the server checked the folder
        (site / "trust.cbor").write_bytes(bytes(bundle))
        altered = _open(phone, url, "bundle-altered")
        (site / "trust.cbor").unlink()
        missing = _open(phone, url, "bundle-missing")
    assert altered.verdict == "error" and "not validly signed by the certification authority" \
        in altered.text
    assert missing.verdict == "error" and "could not be fetched" in missing.text
    assert "Genuine" not in altered.text + missing.text


def _authority_signed(world: World, payload: bytes) -> bytes:
    """A bundle message over ``payload`` with the real authority key (as a buggy or hostile
    exporter holding the key could make): the page must still refuse what is not canonical."""
    from jdzhi.registry.db import open_registry
    from jdzhi.trace.formats.common import CONTENT_TYPES, authority_kid, external_aad
    from jdzhi.trace.formats.cose import sign1
    from jdzhi.trace.keys.authority import load_authority

    db = open_registry(Home(world.home))
    try:
        authority = load_authority(Home(world.home), db, TEST_PASSPHRASE.encode())
    finally:
        db.close()
    return sign1(content_type=CONTENT_TYPES["bundle"], kid=authority_kid(authority.public_key),
                 payload=payload, external_aad=external_aad("bundle"), sign=authority.sign)


def test_signed_but_non_canonical_bundles_are_refused_like_jdzhi_does(
    world: World, phone: Any, tmp_path: Path
) -> None:
    import cbor2

    from jdzhi.errors import IntegrityError
    from jdzhi.trace.formats.cose import decode_sign1, dumps
    from jdzhi.trace.trust.bundle import decode_bundle

    site = tmp_path / "site"
    export_page(Home(world.home), site, passphrase=TEST_PASSPHRASE.encode())
    good = (site / "trust.cbor").read_bytes()
    payload = decode_sign1(good).payload
    fields = cbor2.loads(payload)
    assert dumps(fields) == payload and b"\x61\x76\x01" in payload  # "v": 1
    variants = {
        "long-form-integer": payload.replace(b"\x61\x76\x01", b"\x61\x76\x18\x01", 1),
        "unsorted-keys": cbor2.dumps(dict(reversed(list(fields.items())))),
        "float-time": dumps({**fields, "iat": float(fields["iat"])}),
        "missing-keys": dumps({k: v for k, v in fields.items() if k != "keys"}),
        "trailing-byte": payload + b"\x00",
        "indefinite-array": payload.replace(b"\x65bases\x81", b"\x65bases\x9f", 1)
        .replace(DEFAULT_BASE_URL.encode(), DEFAULT_BASE_URL.encode() + b"\xff", 1),
    }
    label, _ = world.cases["genuine"]
    pinned = _pinned_key(site)
    with start_server(site, 0) as running:
        for name, variant in variants.items():
            assert variant != payload, name
            message = _authority_signed(world, variant)
            with pytest.raises(IntegrityError):
                decode_bundle(message, pinned, now=datetime.now(UTC))
            (site / "trust.cbor").write_bytes(message)
            opened = _open(phone, running.label_url(label, DEFAULT_BASE_URL), f"bundle-{name}")
            assert opened.verdict == "error", name
            assert "refused" in opened.text, name


def _pinned_key(site: Path) -> bytes:
    index = (site / "index.html").read_text(encoding="utf-8")
    pinned = index.split('name="jdzhi-authority" content="', 1)[1][:43]
    return base64.urlsafe_b64decode(pinned + "=")


def test_a_page_pinning_another_authority_refuses_the_bundle(
    world: World, phone: Any, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    export_page(Home(world.home), site, passphrase=TEST_PASSPHRASE.encode())
    other = from_seed(bytes(range(7, 39))).public_key
    index = (site / "index.html").read_text(encoding="utf-8")
    pinned = index.split('name="jdzhi-authority" content="', 1)[1][:43]
    label, _ = world.cases["genuine"]
    with start_server(site, 0) as running:
        (site / "index.html").write_text(index.replace(pinned, base64url(other)), "utf-8")
        opened = _open(phone, running.label_url(label, DEFAULT_BASE_URL), "foreign-authority")
    assert opened.verdict == "error" and "refused" in opened.text


def test_the_bare_page_explains_what_to_do(server: PageServer, phone: Any) -> None:
    page = phone.new_page()
    try:
        page.goto(server.url + "/")
        page.wait_for_selector("html[data-state=idle]", timeout=20_000)
        assert "Scan the QR label" in page.inner_text("body")
        assert page.get_attribute("#verdict", "data-verdict") is None
        assert page.get_attribute("html", "lang") == "zh-Hans"
        assert page.locator("[lang=en]").count() > 0
    finally:
        page.close()


def test_the_vendored_verifier_is_the_recorded_release() -> None:
    """noble-ed25519.js is @noble/ed25519's index.js as VENDORED.md records it, unedited, and
    like the rest of the page it needs nothing from elsewhere (its links are in comments)."""
    record = (STATIC / "VENDORED.md").read_text(encoding="utf-8")
    script = (STATIC / "noble-ed25519.js").read_bytes()
    assert f"| SHA-256 of `noble-ed25519.js` | `{hashlib.sha256(script).hexdigest()}` |" in record
    text = script.decode("utf-8")
    assert "| version | 2.3.0 |" in record and text.startswith("/*! noble-ed25519 - MIT License")
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.DOTALL)
    assert "https://" in text and not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", code)
    assert not re.search(r"\b(fetch|XMLHttpRequest|WebSocket|importScripts|import)\b", code)


# --- signatures libsodium refuses though an equation may hold ---------------------------------
# Enough edwards25519 arithmetic (affine, RFC 8032 §5.1) to make them: small-order points, and
# signatures whose R or key carries a small-order component, which no honest signer makes.

FIELD = 2**255 - 19
ORDER = 2**252 + 27742317777372353535851937790883648493
CURVE_D = -121665 * pow(121666, -1, FIELD) % FIELD
BASE = (0x216936D3CD6E53FEC0A4E231FDD6DC5C692CC7609525A7B2C9562D608F25D51A,
        4 * pow(5, -1, FIELD) % FIELD)
#: a point of order 8
TORSION = (0x1FD5B9A006394A28E933993238DE4ABB5C193C7013E5E238DEA14646C545D14A,
           0x7A03AC9277FDC74EC6CC392CFA53202A0F67100D760B3CBA4FD84D3D706A17C7)
CurvePoint = tuple[int, int]


def _point_sum(p: CurvePoint, q: CurvePoint) -> CurvePoint:
    t = CURVE_D * p[0] * q[0] * p[1] * q[1] % FIELD
    return ((p[0] * q[1] + q[0] * p[1]) * pow(1 + t, -1, FIELD) % FIELD,
            (p[1] * q[1] + p[0] * q[0]) * pow(1 - t, -1, FIELD) % FIELD)


def _point_times(n: int, point: CurvePoint) -> CurvePoint:
    result = (0, 1)
    while n:
        if n & 1:
            result = _point_sum(result, point)
        point, n = _point_sum(point, point), n >> 1
    return result


def _point_bytes(point: CurvePoint) -> bytes:
    return (point[1] | (point[0] & 1) << 255).to_bytes(32, "little")


def _challenge(r: bytes, public_key: bytes, message: bytes) -> int:
    return int.from_bytes(hashlib.sha512(r + public_key + message).digest(), "little") % ORDER


@dataclass(frozen=True)
class Forged:
    site: Path
    #: case name -> label text; `jdzhi verify` calls each one tampered but "genuine-control"
    cases: dict[str, str]
    #: a page whose bundle certifies small-order and non-canonical keys (docs/format.md: such a
    #: bundle is invalid), and the classic forgery under each of those keys
    refused_site: Path
    refused_cases: dict[str, str]


@pytest.fixture(scope="module")
def forged(world: World, tmp_path_factory: pytest.TempPathFactory) -> Forged:
    """A bundle (signed by the real authority, as a hostile exporter holding its key could) that
    certifies small-order keys and a key with a small-order component, and labels under them."""
    import cbor2

    from jdzhi.trace.formats.cose import decode_sign1, dumps

    root = tmp_path_factory.mktemp("forged")
    seed = bytes(range(40, 72))
    scalar = int.from_bytes(hashlib.sha512(seed).digest()[:32], "little")
    scalar = scalar & ~7 & ((1 << 254) - 1) | 1 << 254  # RFC 8032 §5.1.5 clamping
    honest = _point_times(scalar, BASE)
    assert _point_bytes(honest) == from_seed(seed).public_key
    mixed = _point_sum(honest, TORSION)
    refused_keys = {
        **{f"small-order-key-{n}": _point_bytes(_point_times(n, TORSION)) for n in range(8)},
        "small-order-key-signed-identity": (1 | 1 << 255).to_bytes(32, "little"),
        "non-canonical-key-p": FIELD.to_bytes(32, "little"),
        "non-canonical-key-p+1": (FIELD + 1).to_bytes(32, "little"),
    }
    keys = {**refused_keys, "genuine-control": _point_bytes(honest),
            "torsion-in-r": _point_bytes(honest), "mixed-order-key": _point_bytes(mixed)}
    key_ids = {name: 900 + number for number, name in enumerate(keys)}
    signed_at = unix_time(datetime(2026, 3, 15, tzinfo=UTC))

    def fields(name: str) -> LabelFields:
        return LabelFields(key_ids[name], 2000 + key_ids[name], signed_at, 1)

    def message(name: str) -> bytes:
        return fields(name).signing_input()

    def label(name: str, signature: bytes) -> str:
        return Label(fields(name), signature).text(DEFAULT_BASE_URL)

    def signature(name: str, public: CurvePoint, r: int, added: CurvePoint = (0, 1)) -> bytes:
        """R = [r]B + added, S = r + k * scalar: the honest signature when nothing is added."""
        nonce = _point_bytes(_point_sum(_point_times(r, BASE), added))
        k = _challenge(nonce, _point_bytes(public), message(name))
        return nonce + ((r + k * scalar) % ORDER).to_bytes(32, "little")

    # the classic forgery: R the identity, S = 0; [S]B = R + [k]A whenever [k]A is the identity
    identity_zero = (1).to_bytes(32, "little") + bytes(32)
    refused_cases = {name: label(name, identity_zero) for name in refused_keys}
    cases = {}
    cases["genuine-control"] = label("genuine-control", signature("genuine-control", honest, 77))
    # the key holder adds a point of order 8 to R: [8]R = [8]([S]B - [k]A) still holds
    cases["torsion-in-r"] = label("torsion-in-r",
                                  signature("torsion-in-r", honest, 78, added=TORSION))
    # a key with a component of order 8 and k not a multiple of 8: only [8]R = ... holds
    r = next(r for r in range(79, 200) if _challenge(
        _point_bytes(_point_times(r, BASE)), _point_bytes(mixed), message("mixed-order-key")) % 8)
    cases["mixed-order-key"] = label("mixed-order-key", signature("mixed-order-key", mixed, r))
    genuine, _ = world.cases["genuine"]
    signed_label = base32_decode(genuine[len(DEFAULT_BASE_URL):])
    s_plus_l = int.from_bytes(signed_label[45:], "little") + ORDER
    cases["s-plus-l"] = _with_payload(signed_label[:45] + s_plus_l.to_bytes(32, "little"))

    def bundle_certifying(names: list[str], bundle: Path) -> Path:
        payload = cbor2.loads(decode_sign1((world.site / "trust.cbor").read_bytes()).payload)
        (template,) = (entry for entry in payload["keys"] if entry["k"] == 1)
        payload["keys"] += [{**template, "k": key_ids[name], "pk": keys[name]} for name in names]
        bundle.write_bytes(_authority_signed(world, dumps(payload)))
        return bundle

    site = root / "site"
    export_page(Home(world.home), site, bundle=bundle_certifying(
        [name for name in keys if name not in refused_keys], root / "forged.cbor"))
    # export_page refuses an invalid bundle: this page is the valid one with the bundle swapped
    (root / "refused").mkdir()
    for name in PAGE_FILES:
        (root / "refused" / name).write_bytes((site / name).read_bytes())
    bundle_certifying(list(refused_keys), root / "refused" / "trust.cbor")
    return Forged(site, cases, root / "refused", refused_cases)


@pytest.mark.parametrize("verifier", VERIFIERS)
def test_what_libsodium_refuses_the_page_refuses(verifier: str, cli: Invoke, world: World,
                                                 forged: Forged,
                                                 request: pytest.FixtureRequest) -> None:
    """Small-order and non-canonical keys and R points, S >= L, a small-order component in R or
    in the key: `jdzhi verify` (libsodium) calls each tampered, and so does the page, with
    WebCrypto (Chromium's accepts some) and with noble-ed25519 (cofactored: it accepts some)."""
    trust = ("--trust", str(forged.site / "trust.cbor"))
    phone = _phone(request, verifier)
    with start_server(forged.site, 0) as running:
        for name, label in forged.cases.items():
            expected = "genuine" if name == "genuine-control" else "tampered"
            assert _cli_verdict(cli, world, label, *trust)[0] == expected, name
            opened = _open(phone, running.label_url(label, DEFAULT_BASE_URL),
                           f"forged-{name}-{verifier}")
            assert (opened.verdict, opened.verifier) == (expected, verifier), name


def test_a_bundle_certifying_a_small_order_key_is_refused(cli: Invoke, world: World,
                                                          forged: Forged) -> None:
    """docs/format.md: a bundle that certifies a small-order (or non-canonically encoded
    small-order) key is invalid, so the classic forgery under such a key never gets a verdict:
    `jdzhi verify` refuses the bundle and `jdzhi serve` will not serve a page with it (the page's
    own refusal is checked in Node by tests/test_vectors_settled.py)."""
    from jdzhi.errors import IntegrityError

    trust = ("--trust", str(forged.refused_site / "trust.cbor"))
    for name, label in forged.refused_cases.items():
        result = cli("--home", str(world.home), "verify", label, "--json", *trust)
        assert result.exit_code == ExitCode.INTEGRITY, name
        assert "not a usable Ed25519 key" in result.stderr, name
    with pytest.raises(IntegrityError, match="not a usable Ed25519 key"):
        start_server(forged.refused_site, 0)
