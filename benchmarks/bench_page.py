"""The phone verification page: bundle size and time to verdict in headless Chromium.

A registry of COUNT sample enterprises (fictitious, `registry sample`) with a certified key for each
one whose license is in force, exported with `jdzhi page export`; then a genuine label is
opened ROUNDS times, each in a fresh browser context (nothing cached), and the time from
navigation start to the page's `jdzhi-verdict` performance mark (set when `data-verdict` is) is
reported: fetching and checking the bundle (its signature, every field) and verifying the label.

Run: .venv/bin/python -m benchmarks.bench_page [COUNT] [ROUNDS]   (default 220 enterprises, 15)
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"


def main(count: int, rounds: int) -> None:
    from playwright.sync_api import sync_playwright
    from typer.testing import CliRunner

    from jdzhi.cli import app
    from jdzhi.errors import InvalidState
    from jdzhi.home import Home
    from jdzhi.registry.db import open_registry
    from jdzhi.trace.formats.labels import DEFAULT_BASE_URL
    from jdzhi.trace.keys.certified import issue_licensee_key
    from jdzhi.trace.page.export import export_page
    from jdzhi.trace.page.serve import start_server

    runner = CliRunner()
    passphrase = "benchmark passphrase"
    os.environ["JDZHI_PASSPHRASE"] = passphrase

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        home = Home(root / "home")

        def run(*args: str) -> str:
            result = runner.invoke(app, ["--home", str(home.path), *args])
            assert result.exit_code == 0, result.output
            return result.stdout

        run("init")
        sample = root / "sample.csv"
        run("registry", "sample", "--count", str(count), "--out", str(sample), "--seed", "7")
        run("registry", "import", str(sample))
        with sample.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
        active = [row for row in rows if row["status"] == "active"]
        start = time.perf_counter()
        keyed: list[dict[str, str]] = []
        db = open_registry(home)
        try:
            for row in active:
                try:
                    issue_licensee_key(home, db, row["license_no"],
                                       out=root / f"k{len(keyed)}.key",
                                       authority_passphrase=passphrase.encode(),
                                       key_passphrase=passphrase.encode())
                except InvalidState:  # a license past its end date: no key for it
                    continue
                keyed.append(row)
        finally:
            db.close()
        print(f"{len(keyed)} keys issued in {time.perf_counter() - start:.1f} s")
        first = keyed[0]
        records = root / "records.csv"
        records.write_text("serial,batch,category,production_date\n"
                           f"1001,B1,{first['categories'].split(';')[0]},"
                           f"{first['valid_from']}\n", encoding="utf-8")
        signed = root / "signed.jsonl"
        run("sign", str(records), "--key", str(root / "k0.key"), "--out", str(signed))
        label = json.loads(signed.read_text(encoding="utf-8"))["label"]
        site = root / "site"
        page = export_page(home, site, passphrase=passphrase.encode())
        print(f"{count} enterprises: trust.cbor is {page.bundle_bytes:,} bytes; page files "
              f"{sum((site / name).stat().st_size for name in page.files[:3]):,} bytes")

        with start_server(site, 0) as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            url = server.label_url(label, DEFAULT_BASE_URL)
            times = []
            for _ in range(rounds):
                context = browser.new_context(viewport={"width": 390, "height": 844})
                tab = context.new_page()
                tab.goto(url)
                verdict = tab.wait_for_selector("#verdict[data-verdict]", timeout=30_000)
                assert verdict is not None
                if verdict.get_attribute("data-verdict") != "genuine":
                    raise SystemExit(f"the page's verdict is not genuine: "
                                     f"{' '.join(verdict.inner_text().split())}")
                times.append(tab.evaluate(
                    "performance.getEntriesByName('jdzhi-verdict')[0].startTime"))
                context.close()
            browser.close()
        print(f"time to verdict, fresh context, {rounds} rounds: median "
              f"{statistics.median(times):.0f} ms, min {min(times):.0f} ms, "
              f"max {max(times):.0f} ms (Chromium {CHROMIUM}, {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 220,
         int(sys.argv[2]) if len(sys.argv) > 2 else 15)
