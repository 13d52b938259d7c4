"""`jdzhi server` through HTTP on loopback: scans/s and record lines/s beside ``GET /healthz`` of
the same server in the same run (the ratio says what jdzhi's work costs over the framework's),
and scan latency (p50/p99) at 50 concurrent clients.

    .venv/bin/python -m benchmarks.bench_server [--quick] [--workers N]

The server runs as its own process (``jdzhi server --port 0``); the 50 clients are threads of this
process, each with one keep-alive connection (``http.client``), so on a 2-core machine client and
server share the cores: the figures are what the machine does, not the server alone. Scans are
anonymous page scans of genuine labels, 1,000 serials scanned 20 times each; each is judged,
counted and stored durably (group commit, ``synchronous = FULL``) before it is answered; a
second pass scans labels never scanned before (each one's signature checked). Record
lines are SIGNED.jsonl lines signed on a copy of the registry and uploaded in bodies of 1,000.
Goals on 2 cores: scans >= 1,000/s and >= 50 % of the healthz rate.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.run import (
    REPO,
    Row,
    _environment,
    _jdzhi,
    _licensed_home,
    _records_csv,
    copy_home,
)

CONCURRENCY = 50


@dataclass(frozen=True)
class Driven:
    """What :func:`drive` saw: wall seconds, per-request latency (s), status and body."""

    seconds: float
    latencies: list[float]
    statuses: list[int]
    answers: list[bytes]

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, share: float) -> float:
        return statistics.quantiles(self.latencies, n=100)[round(share * 100) - 1]


def drive(url: str, method: str, path: str, bodies: Sequence[bytes | None],
          headers: dict[str, str], concurrency: int = CONCURRENCY) -> Driven:
    """Send one request per body from ``concurrency`` clients at once (keep-alive each)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    latencies = [0.0] * len(bodies)
    statuses = [0] * len(bodies)
    answers = [b""] * len(bodies)

    def client(first: int) -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=300)
        try:
            for index in range(first, len(bodies), concurrency):
                start = time.perf_counter()
                connection.request(method, path, body=bodies[index], headers=headers)
                response = connection.getresponse()
                answers[index] = response.read()
                statuses[index] = response.status
                latencies[index] = time.perf_counter() - start
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Driven(time.perf_counter() - start, latencies, statuses, answers)


@dataclass(frozen=True)
class ServerProcess:
    url: str
    pid: int


@contextmanager
def server_process(home: Path, *args: str,
                   database_url: str | None = None) -> Iterator[ServerProcess]:
    """``jdzhi server --port 0`` on ``home`` (its database at ``database_url`` if given); its URL
    and process id once /healthz answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "jdzhi", "--home", str(home), "server", "--port", "0", "--json",
         *args], env=_environment(home, database_url), cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        text = b""
        while not text.rstrip().endswith(b"}"):
            line = process.stdout.readline()
            if not line:
                raise RuntimeError("the server did not start")
            text += line
        url = json.loads(text)["url"]
        for _ in range(600):
            try:
                if drive(url, "GET", "/healthz", [None], {}, 1).statuses == [200]:
                    break
            except OSError:
                time.sleep(0.05)
        yield ServerProcess(url, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=60)


def _signed_elsewhere(home: Path, key: Path, folder: Path, count: int) -> Path:
    """SIGNED.jsonl signed on a copy of the registry, so that uploading it stores new rows."""
    copy = copy_home(home, folder / "workshop")
    out = folder / "upload.jsonl"
    _jdzhi(copy, "sign", str(_records_csv(folder / "upload.csv", 500_000, count)), "--key",
           str(key), "--out", str(out))
    return out


def measure(quick: bool, workers: int = 1) -> dict[str, float]:
    scans = 2_000 if quick else 20_000
    fresh = 2_000 if quick else 10_000
    lines = 2_000 if quick else 20_000
    with _licensed_home() as (home, key):
        folder = key.parent
        serials = _records_csv(folder / "records.csv", 1, 1_000 + fresh)
        _jdzhi(home, "sign", str(serials), "--key", str(key), "--out", str(folder / "s.jsonl"))
        labels = [json.loads(line)["label"] for line in
                  (folder / "s.jsonl").read_text(encoding="utf-8").splitlines()]
        upload = _signed_elsewhere(home, key, folder, lines).read_bytes().splitlines()
        json_type = {"content-type": "application/json"}
        with server_process(home, "--scan-rate-limit", "0", "--workers", str(workers)) as server:
            url = server.url
            drive(url, "GET", "/healthz", [None] * 500, {})  # warm up
            health = drive(url, "GET", "/healthz", [None] * scans, {})
            # popular items: 1,000 serials scanned 20 times each (a label seen again within the
            # minute skips its signature check), then labels never scanned before
            repeated = drive(url, "POST", "/api/v1/scans", [json.dumps(
                {"label": labels[i % 1_000], "source": "page"}).encode() for i in range(scans)],
                json_type)
            first_time = drive(url, "POST", "/api/v1/scans", [json.dumps(
                {"label": label, "source": "page"}).encode() for label in labels[1_000:]],
                json_type)
            assert set(repeated.statuses) == set(first_time.statuses) == {200}
            chunks = [b"\n".join(upload[i:i + 1000]) for i in range(0, len(upload), 1000)]
            uploaded = drive(url, "POST", "/api/v1/records", chunks,
                             {"content-type": "application/x-ndjson"}, concurrency=1)
            assert sum(json.loads(a)["stored"] for a in uploaded.answers) == lines
    return {"healthz_per_s": health.rate, "healthz_p50_ms": health.percentile(0.5) * 1000,
            "scans_per_s": repeated.rate, "scan_p50_ms": repeated.percentile(0.5) * 1000,
            "scan_p99_ms": repeated.percentile(0.99) * 1000,
            "first_scans_per_s": first_time.rate,
            "first_scan_p50_ms": first_time.percentile(0.5) * 1000,
            "first_scan_p99_ms": first_time.percentile(0.99) * 1000,
            "record_lines_per_s": lines / uploaded.seconds, "scans": scans,
            "first_scans": fresh, "lines": lines, "workers": workers}


def rows(quick: bool) -> list[Row]:
    figures = measure(quick)
    ratio = figures["scans_per_s"] / figures["healthz_per_s"]
    return [
        Row("server scans (HTTP, 50 clients)",
            f"{figures['scans_per_s']:,.0f} scans/s (p50 {figures['scan_p50_ms']:.0f} ms, p99 "
            f"{figures['scan_p99_ms']:.0f} ms) of 1,000 labels x 20; labels never seen before "
            f"{figures['first_scans_per_s']:,.0f}/s (p50 {figures['first_scan_p50_ms']:.0f} ms, "
            f"p99 {figures['first_scan_p99_ms']:.0f} ms)",
            f"{figures['healthz_per_s']:,.0f} GET /healthz/s",
            f"ratio {ratio:.0%} (goals >= 1,000/s and >= 50 %)"),
        Row("server record uploads (HTTP)", f"{figures['record_lines_per_s']:,.0f} lines/s",
            "", "verified and stored, bodies of 1,000 lines"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_server",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    args = parser.parse_args()
    print(json.dumps(measure(args.quick, args.workers), indent=2))


if __name__ == "__main__":
    main()
