"""Scan + verify per photo beside raw zxing-cpp decoding of the same photos, in one run.

    .venv/bin/python -m benchmarks.bench_scan [--quick]

The photos are SIMULATED (jdzhi.demo.photosim): labels of freshly signed records, tilted, curved,
blurred, with glare, over the porcelain photos in ../shared/data/porcelain-dev when present, else
over generated backdrops. Raw figure: opening the JPEG and one zxing-cpp pass. Command
figure: ``jdzhi.trace.scanning.log.scan`` (what ``jdzhi scan`` runs): decoding with its
retries, verification against the registry, clone check and the scan log write.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.run import REPO, Row, _jdzhi, _licensed_home, _records_csv, timed

PORCELAIN = REPO.parent / "shared" / "data" / "porcelain-dev"


def rows(quick: bool) -> list[Row]:
    import numpy as np
    import zxingcpp
    from PIL import Image

    from jdzhi.demo.photosim import simulate_photo
    from jdzhi.home import Home
    from jdzhi.trace.labels.layout import LabelData, SheetSpec
    from jdzhi.trace.labels.png import label_image
    from jdzhi.trace.labels.qr import encode
    from jdzhi.trace.scanning.log import scan

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
    return [*curvature_rows(quick), Row(
        "scan + verify per photo",
        f"{scan_seconds / count * 1000:.0f} ms (`jdzhi scan` library call; {genuine}/{count} "
        f"simulated photos genuine)",
        f"{raw_seconds / count * 1000:.0f} ms (open JPEG + one zxing-cpp QR pass; read "
        f"{raw_found}/{count})",
        "photos 1280 x 960, simulated" + (", on porcelain photos" if backgrounds else ""),
    )]


#: half the angle round the body a 50 mm decal covers: 0.6 on a 90 mm vase, 1.0 on a 50 mm cup
CURVATURES = (0.0, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4)


def curvature_rows(quick: bool) -> list[Row]:
    """Reading rate against the curvature of the body, before and after the cylinder pass.

    One decode per photo gives both: the cylinder pass runs only after every earlier pass has
    failed, so a photo the earlier passes read is one the old method read, and one read by the
    cylinder pass is one it did not. Every decoded text must be the label's own (no false read).
    """
    import base64
    import random

    import numpy as np

    from jdzhi.demo.photosim import PhotoConditions, simulate_photo
    from jdzhi.trace.labels.layout import LabelData, SheetSpec
    from jdzhi.trace.labels.png import label_image
    from jdzhi.trace.labels.qr import encode
    from jdzhi.trace.scanning.decode import CYLINDER_PASS, decode_gray

    count = 8 if quick else 30
    rng = random.Random(5)
    labels = [LabelData(str(i), "HTTPS://TRACE.EXAMPLE.CN/V/" + base64.b32encode(
        rng.randbytes(77)).decode().rstrip("="), "样本陶瓷", "青花") for i in range(count)]
    images = [label_image(label, encode(label.text), SheetSpec(dpi=300)) for label in labels]
    cells = []
    for curvature in CURVATURES:
        before = after = wrong = 0
        seconds = 0.0
        for index, (label, image) in enumerate(zip(labels, images, strict=True)):
            photo = simulate_photo(image, seed=1000 + index,
                                   conditions=PhotoConditions(curvature=curvature, glare=0.0))
            gray = np.asarray(photo.convert("L"))
            start = time.process_time()
            found = decode_gray(gray)
            seconds += time.process_time() - start
            wrong += sum(decoded.text != label.text for decoded in found)
            read = [decoded for decoded in found if decoded.text == label.text]
            after += bool(read)
            before += bool(read) and read[0].pass_name != CYLINDER_PASS
        cells.append(f"{curvature:g}: {before}/{count} -> {after}/{count} "
                     f"({seconds / count * 1000:.0f} ms)")
        if wrong:
            cells.append(f"{wrong} FALSE READS at {curvature:g}")
    return [Row("curved labels read (before -> after)", "; ".join(cells),
                "zxing-cpp and the rescue passes alone: the 'before' counts",
                "simulated photos, curvature = half the angle round the body the decal covers "
                "(radians); ms = decode CPU per photo")]


if __name__ == "__main__":
    for row in rows("--quick" in sys.argv):
        print(f"{row.figure}: {row.command} | raw: {row.library} | {row.note}")
