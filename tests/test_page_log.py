"""The verification page's copy of the transparency-log rules: its RFC 9162 consistency check
agrees with jdzhi's over every pair of small tree sizes (in Node.js), and in Chromium the page
remembers the newest checkpoint it accepted and refuses an older bundle afterwards."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import BOTH_BACKENDS
from hardening_support import World, build_world, ok, run

from jdzhi.trace.page.export import export_page
from jdzhi.trace.page.serve import start_server
from jdzhi.trace.tlog.merkle import MerkleTree, verify_consistency

pytestmark = BOTH_BACKENDS

VERIFY_JS = (Path(__file__).resolve().parents[1] / "jdzhi" / "trace" / "page" / "static"
             / "verify.js")

RUNNER = """
import { readFileSync } from "node:fs";
import { verifyConsistency } from "./verify.mjs";
const hex = (text) => Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = [];
for (const [m, n, oldRoot, newRoot, proof] of cases) {
  out.push(await verifyConsistency(m, n, hex(oldRoot), hex(newRoot), proof.map(hex)));
}
process.stdout.write(JSON.stringify(out));
"""


def _cases() -> list[tuple[int, int, str, str, list[str]]]:
    leaves = [hashlib.sha256(b"%d" % i).digest() for i in range(24)]
    tree = MerkleTree(leaves)
    cases = []
    for n in range(1, 25):
        for m in range(1, n + 1):
            proof = tree.consistency_proof(m, n)
            good = (m, n, tree.root(m).hex(), tree.root(n).hex(), [h.hex() for h in proof])
            cases.append(good)
            if proof:  # one bit of the proof changed, or the proof of another old size
                bad = bytes([proof[0][0] ^ 1]) + proof[0][1:]
                cases.append((m, n, good[2], good[3], [bad.hex(), *good[4][1:]]))
            if m > 1:
                cases.append((m - 1, n, tree.root(m - 1).hex(), good[3], good[4]))
    return cases


def test_the_page_checks_consistency_proofs_as_jdzhi_does(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    cases = _cases()
    (tmp_path / "verify.mjs").write_text(VERIFY_JS.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "runner.mjs").write_text(RUNNER, encoding="utf-8")
    (tmp_path / "cases.json").write_text(json.dumps(cases), encoding="utf-8")
    done = subprocess.run([node, "runner.mjs", "cases.json"], cwd=tmp_path, capture_output=True,
                          text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    expected = [verify_consistency(m, n, bytes.fromhex(old), bytes.fromhex(new),
                                   [bytes.fromhex(h) for h in proof]).ok
                for m, n, old, new, proof in cases]
    assert json.loads(done.stdout) == expected
    assert True in expected and False in expected


@pytest.fixture(name="world")
def world_fixture(tmp_path: Path) -> World:
    return build_world(tmp_path, count=1)


@pytest.fixture(name="phone")
def phone_fixture() -> Iterator[Any]:
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium),
                                             args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 390, "height": 844})
        yield context
        browser.close()


def _open(context: Any, url: str) -> tuple[str | None, str]:
    page = context.new_page()
    try:
        page.clock.set_fixed_time(datetime(2026, 3, 11, tzinfo=UTC))  # the bundles' month
        page.goto(url)
        page.wait_for_selector("#verdict[data-verdict]", timeout=20_000)
        return page.get_attribute("#verdict", "data-verdict"), page.inner_text("body")
    finally:
        page.close()


@pytest.mark.browser
def test_the_page_remembers_the_newest_log_and_refuses_a_rollback(
        world: World, phone: Any, tmp_path: Path) -> None:
    site = tmp_path / "site"
    export_page(world.home, site, bundle=world.bundle)
    older = (site / "trust.cbor").read_bytes()
    label = world.lines()[0]["label"]
    ok(run(world.home.path, "registry", "add", "--uscc", "91360203MA35AAAA0H", "--name",
           "景德镇市己窑有限公司", "--district", "珠山区", "--license-no", "JDZ-GI-2026-0009",
           "--categories", "qinghua", "--valid-from", "2026-01-01", "--valid-to", "2030-12-31"))
    newer = world.bundle.parent / "newer.cbor"
    ok(run(world.home.path, "trust", "export", "--out", str(newer)))
    with start_server(site, 0) as server:
        url = server.label_url(label, "HTTPS://TRACE.EXAMPLE.CN/V/")
        assert _open(phone, url)[0] == "genuine"
        (site / "trust.cbor").write_bytes(newer.read_bytes())
        assert _open(phone, url)[0] == "genuine"
        (site / "trust.cbor").write_bytes(older)
        verdict, text = _open(phone, url)
    assert verdict == "error" and "rollback refused" in text
