"""Label throughput: PDF labels per second beside the raw QR encoders, measured in one run.

    .venv/bin/python -m benchmarks.bench_labels [--quick]

Raw figures: zxing-cpp's writer and the pure-Python ``qrcode`` library making QR matrices of
label-shaped texts (base + base32 of 77 bytes, version 6-M). Command figure: ``jdzhi label`` into
a PDF, as a process (start-up, reading SIGNED.jsonl, font subsetting and all) and the library
call alone.
"""

from __future__ import annotations

import base64
import random
import sys
import tempfile
from pathlib import Path

from benchmarks.run import Row, _jdzhi, _licensed_home, _records_csv, per_second, timed

BASE = "HTTPS://TRACE.EXAMPLE.CN/V/"


def _texts(count: int) -> list[str]:
    rng = random.Random(7)
    return [BASE + base64.b32encode(rng.randbytes(77)).decode().rstrip("=") for _ in range(count)]


def rows(quick: bool) -> list[Row]:
    import qrcode
    import zxingcpp

    from jdzhi.trace.labels import label_file

    count = 1_000 if quick else 5_000
    texts = _texts(count)
    _, zx_seconds = timed(lambda: [zxingcpp.create_barcode(
        t, zxingcpp.BarcodeFormat.QRCode, ec_level="M").to_image(scale=1) for t in texts])
    small = texts[: max(50, count // 20)]

    def with_qrcode() -> None:
        for text in small:
            qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
            qr.add_data(text)
            qr.make(fit=True)

    _, qrcode_seconds = timed(with_qrcode)
    with _licensed_home() as (home, key), tempfile.TemporaryDirectory() as folder:
        signed = Path(folder) / "signed.jsonl"
        _jdzhi(home, "sign", str(_records_csv(Path(folder) / "r.csv", 1, count)),
               "--key", str(key), "--out", str(signed))
        cli_seconds = _jdzhi(home, "label", str(signed), "--out", str(Path(folder) / "a.pdf"))
        _, lib_seconds = timed(lambda: label_file(signed, Path(folder) / "b.pdf"))
    return [
        Row("labels/s to PDF",
            f"{per_second(count, cli_seconds)} (`jdzhi label` to PDF, {count:,} labels); "
            f"library call {per_second(count, lib_seconds)}",
            f"zxing-cpp writer {per_second(count, zx_seconds)}; qrcode "
            f"{per_second(len(small), qrcode_seconds)} (QR matrices)",
            "target >= 1,000/s"),
    ]


if __name__ == "__main__":
    for row in rows("--quick" in sys.argv):
        print(f"{row.figure}: {row.command} | raw: {row.library} | {row.note}")
