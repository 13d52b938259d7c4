"""Label throughput: PDF labels per second beside the raw QR encoders, measured in one run.

    .venv/bin/python -m benchmarks.bench_labels [--quick]

Raw figures (CPU time of this process, one core): zxing-cpp's writer choosing its own data mask,
:func:`jdzhi.trace.labels.qr.encode_many` (zint under mask 0, the mask chosen for a batch at once:
the same symbols) and the pure-Python ``qrcode`` library, on label-shaped texts (base + base32 of 77
bytes, version 6-M). Command figures: ``jdzhi label`` into a PDF as a process (start-up, reading
SIGNED.jsonl, the font, encoding and drawing), its wall time and the CPU time of its whole process
tree (worker processes included, counted through a child subreaper on Linux), and the library
call. CPU time per label is the steady figure on a shared machine; wall time is what a user waits.
The prepared font is cached between runs (the cold figure is the first run on a machine).
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.run import REPO, Row, _environment, _jdzhi, _licensed_home, _records_csv, timed

BASE = "HTTPS://TRACE.EXAMPLE.CN/V/"

#: runs a command and prints its wall time and the CPU time of its whole process tree: as a child
#: subreaper this process inherits the orphans (the fork server, the workers) and reaps them
_TREE_CPU = """
import ctypes, json, os, resource, subprocess, sys, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
start = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, capture_output=True)
wall = time.perf_counter() - start
while True:
    try:
        os.waitpid(-1, 0)
    except ChildProcessError:
        break
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime}))
"""


def _texts(count: int) -> list[str]:
    rng = random.Random(7)
    return [BASE + base64.b32encode(rng.randbytes(77)).decode().rstrip("=") for _ in range(count)]


def _cpu(action: Callable[[], object]) -> float:
    start = time.process_time()
    action()
    return time.process_time() - start


def _cli_run(home: Path, signed: Path, out: Path, workers: str | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process tree) of one `jdzhi label` run."""
    from jdzhi.home import CACHE_ENV

    env = _environment(home)
    env[CACHE_ENV] = os.environ[CACHE_ENV]
    if workers is not None:
        env["JDZHI_WORKERS"] = workers
    command = [sys.executable, "-m", "jdzhi", "--home", str(home), "label", str(signed),
               "--out", str(out)]
    if not sys.platform.startswith("linux"):
        return _jdzhi(home, "label", str(signed), "--out", str(out)), float("nan")
    done = subprocess.run([sys.executable, "-c", _TREE_CPU, *command], check=True,
                          capture_output=True, text=True, env=env, cwd=REPO)
    figures = json.loads(done.stdout)
    return float(figures["wall"]), float(figures["cpu"])


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


def _per_label(count: int, seconds: float) -> str:
    return f"{seconds / count * 1000:.2f} ms CPU/label"


def rows(quick: bool) -> list[Row]:
    import qrcode
    import zxingcpp

    from jdzhi.home import CACHE_ENV
    from jdzhi.trace.labels import fonts
    from jdzhi.trace.labels.qr import encode_many
    from jdzhi.trace.labels.sheets import label_file

    count = 1_000 if quick else 5_000
    big = 4_000 if quick else 20_000
    texts = _texts(count)
    encode_many(texts[:20])  # warm up: imports, first calls
    zxingcpp.create_barcode(texts[0], zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    zxing_cpu = _cpu(lambda: [zxingcpp.create_barcode(
        t, zxingcpp.BarcodeFormat.QRCode, ec_level="M").to_image(scale=1) for t in texts])
    batch_cpu = _cpu(lambda: encode_many(texts))
    small = texts[: max(50, count // 20)]

    def with_qrcode() -> None:
        for text in small:
            qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
            qr.add_data(text)
            qr.make(fit=True)

    qrcode_cpu = _cpu(with_qrcode)
    result: list[Row] = []
    with _licensed_home() as (home, key), tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        saved_cache = os.environ.get(CACHE_ENV)
        os.environ[CACHE_ENV] = str(folder / "cache")  # a cold cache, then a warm one
        try:
            signed = folder / "signed.jsonl"
            _jdzhi(home, "sign", str(_records_csv(folder / "r.csv", 1, big)), "--key", str(key),
                   "--out", str(signed))
            lines = signed.read_text(encoding="utf-8").splitlines(keepends=True)
            batch = folder / "batch.jsonl"
            batch.write_text("".join(lines[:count]), encoding="utf-8")
            cold_wall, cold_cpu = _cli_run(home, batch, folder / "cold.pdf", None)
            fonts.pdf_font_file.cache_clear()
            _, font_cold = timed(lambda: fonts.pdf_font_file("青花瓷"))
            fonts.pdf_font_file.cache_clear()
            _, font_warm = timed(lambda: fonts.pdf_font_file("青花瓷"))
            cli_wall, cli_cpu = _cli_run(home, batch, folder / "cli.pdf", None)
            serial_wall, serial_cpu = _cli_run(home, batch, folder / "serial.pdf", "0")
            workers_wall, workers_cpu = _cli_run(home, batch, folder / "workers.pdf", "2")
            os.environ["JDZHI_WORKERS"] = "0"
            start = time.process_time()
            _, lib_wall = timed(lambda: label_file(batch, folder / "lib.pdf"))
            lib_cpu = time.process_time() - start
            big_wall, big_cpu = _cli_run(home, signed, folder / "big.pdf", None)
        finally:
            os.environ.pop("JDZHI_WORKERS", None)
            if saved_cache is None:
                os.environ.pop(CACHE_ENV, None)
            else:
                os.environ[CACHE_ENV] = saved_cache
            fonts.pdf_font_file.cache_clear()
    result.append(Row(
        "labels/s to PDF",
        f"{_rate(count, cli_wall)} (`jdzhi label` to PDF, {count:,} labels, "
        f"{_per_label(count, cli_cpu)} whole process tree); one process "
        f"{_rate(count, serial_wall)} ({_per_label(count, serial_cpu)}), 2 workers "
        f"{_rate(count, workers_wall)} ({_per_label(count, workers_cpu)}); {big:,} labels "
        f"{_rate(big, big_wall)} ({_per_label(big, big_cpu)}); first run on a machine "
        f"{_rate(count, cold_wall)} ({_per_label(count, cold_cpu)}: font not yet cached)",
        f"label_file {_rate(count, lib_wall)} ({_per_label(count, lib_cpu)}, one process); "
        f"QR matrices: encode_many {_rate(count, batch_cpu)}, zxing-cpp writer "
        f"{_rate(count, zxing_cpu)}, qrcode {_rate(len(small), qrcode_cpu)} (CPU time)",
        "target >= 1,000/s on 2 cores; wall figures depend on the machine's load"))
    result.append(Row(
        "label font preparation",
        f"{font_cold:.2f} s first run (subset Noto Sans SC to TrueType), {font_warm * 1000:.0f} ms "
        "from the cache",
        "fontTools subsetter", "once per character set and font file"))
    return result


if __name__ == "__main__":
    for row in rows("--quick" in sys.argv):
        print(f"{row.figure}: {row.command} | raw: {row.library} | {row.note}")
