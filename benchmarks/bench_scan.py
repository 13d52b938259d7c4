"""Scan + verify per photo beside raw zxing-cpp decoding of the same photos, in one run.

    .venv/bin/python -m benchmarks.bench_scan [--quick]

The photos are SIMULATED (jdzhi.trace.photosim): labels of freshly signed records, tilted, curved,
blurred, with glare, over the porcelain photos in ../shared/data/porcelain-dev when present, else
over generated backdrops. Raw figure: opening the JPEG and one zxing-cpp pass. Command figure:
``jdzhi.trace.scanlog.scan`` (what ``jdzhi scan`` runs): decoding with its retries, verification
against the registry, clone check and the scan log write.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from benchmarks.run import REPO, Row, _jdzhi, _licensed_home, _records_csv, timed

PORCELAIN = REPO.parent / "shared" / "data" / "porcelain-dev"


def rows(quick: bool) -> list[Row]:
    import numpy as np
    import zxingcpp
    from PIL import Image

    from jdzhi.home import Home
    from jdzhi.trace.labels import LabelData, SheetSpec, label_image
    from jdzhi.trace.photosim import simulate_photo
    from jdzhi.trace.qr import encode
    from jdzhi.trace.scanlog import scan

    count = 10 if quick else 40
    backgrounds = sorted(PORCELAIN.glob("*.jpg"))[:count] if PORCELAIN.is_dir() else []
    with _licensed_home() as (home, key), tempfile.TemporaryDirectory() as folder:
        signed = Path(folder) / "signed.jsonl"
        _jdzhi(home, "sign", str(_records_csv(Path(folder) / "r.csv", 1, count)),
               "--key", str(key), "--out", str(signed))
        photos = []
        for index, line in enumerate(signed.read_text(encoding="utf-8").splitlines()):
            entry = json.loads(line)
            label = LabelData(entry["serial"], entry["label"], entry["enterprise_short_name"],
                              entry["category_name_zh"])
            image = label_image(label, encode(label.text), SheetSpec(dpi=300))
            background = Image.open(backgrounds[index]) if index < len(backgrounds) else None
            photo = Path(folder) / f"photo-{index}.jpg"
            simulate_photo(image, seed=index, background=background).save(photo)
            photos.append(photo)

        qr_only = zxingcpp.barcode_formats_from_str("QRCode")

        def raw() -> int:
            found = 0
            for photo in photos:
                gray = np.asarray(Image.open(photo).convert("L"))
                found += len(zxingcpp.read_barcodes(gray, formats=qr_only))
            return found

        raw()  # warm up: file cache, zxing-cpp's first call
        raw_found, raw_seconds = timed(raw)
        run, scan_seconds = timed(lambda: scan(photos, home=Home(home), location="bench"))
    genuine = sum(outcome.genuine for outcome in run.outcomes)
    return [Row(
        "scan + verify per photo",
        f"{scan_seconds / count * 1000:.0f} ms (`jdzhi scan` library call; {genuine}/{count} "
        f"simulated photos genuine)",
        f"{raw_seconds / count * 1000:.0f} ms (open JPEG + one zxing-cpp QR pass; read "
        f"{raw_found}/{count})",
        "photos 1280 x 960, simulated" + (", on porcelain photos" if backgrounds else ""),
    )]


if __name__ == "__main__":
    for row in rows("--quick" in sys.argv):
        print(f"{row.figure}: {row.command} | raw: {row.library} | {row.note}")
