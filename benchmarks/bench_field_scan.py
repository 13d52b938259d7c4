"""Field-photo scanning: ``jdzhi scan`` beside one plain zxing-cpp pass, per band, in one run.

    .venv/bin/python -m benchmarks.bench_field_scan [--quick] [--count N] [--seeds S] [--json]

The photos are SIMULATED by :mod:`benchmarks.field_photos` (independent of jdzhi's own photo
simulator): real labels of freshly signed records at 10-17 mm, over the porcelain photos in
../shared/data/porcelain-dev when present (else generated glazes), in three bands of severity.
Seeds start at 1,000,000 by default: a set never looked at while the scanner was developed
(development used seeds below 1,000).

Per band: the share of photos ``jdzhi scan`` calls genuine (``scan_photo``: open, decode with
every rescue pass, verify the signature), the share one plain ``zxingcpp.read_barcodes`` pass
reads on the same grey image, and wrong genuines (a genuine verdict for any text but the
label's own; must be 0). CPU time per photo (this process, one core): for photos zxing-cpp
reads at once, jdzhi's whole call beside opening the file plus that one pass; for every photo
of the hard band, and for those the rescue passes work on (read or not).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.run import Row, _jdzhi, _licensed_home, _records_csv

#: development used seeds below this; the benchmark's own start here
HELD_OUT_SEEDS = 1_000_000
#: distinct signed labels the photos of a run cycle through
LABELS = 24


def measure(count: int, first_seed: int = HELD_OUT_SEEDS) -> dict[str, Any]:
    """Rates and CPU figures per band for ``count`` photos each, seeds from ``first_seed``."""
    import zxingcpp

    from benchmarks.field_photos import BANDS, field_photo, label_art, porcelain_photos
    from jdzhi.home import Home
    from jdzhi.images import load_gray
    from jdzhi.trace.labels.layout import LabelData, SheetSpec
    from jdzhi.trace.labels.png import label_image
    from jdzhi.trace.labels.qr import encode
    from jdzhi.trace.scanning.decode import scan_photo
    from jdzhi.trace.verification.verifier import load_trust

    qr_only = zxingcpp.barcode_formats_from_str("QRCode")
    backgrounds = porcelain_photos()
    results: dict[str, Any] = {"photos_per_band": count, "first_seed": first_seed,
                               "backgrounds": "porcelain-dev" if backgrounds else "generated",
                               "bands": {}}
    with _licensed_home() as (home, key), tempfile.TemporaryDirectory() as folder:
        signed = Path(folder) / "signed.jsonl"
        _jdzhi(home, "sign", str(_records_csv(Path(folder) / "r.csv", 1, LABELS)),
               "--key", str(key), "--out", str(signed))
        labels = []
        for line in signed.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            label = LabelData(entry["serial"], entry["label"], entry["enterprise_short_name"],
                              entry["category_name_zh"])
            labels.append((label.text, label_art(label_image(label, encode(label.text),
                                                             SheetSpec()))))
        trust = load_trust(home=Home(home))
        warm_up = Path(folder) / "warm-up.jpg"  # imports and first calls, not measured
        warm_up.write_bytes(field_photo(labels[0][1], BANDS["hard"], first_seed - 1,
                                        backgrounds).jpeg)
        scan_photo(warm_up, trust)
        for band in BANDS.values():
            rows = []
            for index in range(count):
                seed = first_seed + index
                text, art = labels[index % len(labels)]
                photo = Path(folder) / f"{band.name}-{seed}.jpg"
                photo.write_bytes(field_photo(art, band, seed, backgrounds).jpeg)
                start = time.process_time()
                gray = load_gray(photo)
                plain = [b.text for b in zxingcpp.read_barcodes(gray, formats=qr_only)
                         if b.valid]
                plain_cpu = time.process_time() - start
                start = time.process_time()
                outcomes = scan_photo(photo, trust)
                cpu = time.process_time() - start
                rows.append({
                    "genuine": any(o.genuine and o.text == text for o in outcomes),
                    "wrong_genuine": sum(o.genuine and o.text != text for o in outcomes),
                    "plain": text in plain, "plain_cpu": plain_cpu, "cpu": cpu,
                    "pass": next((o.decode_pass for o in outcomes if o.text == text), None)})
                photo.unlink()
            results["bands"][band.name] = _summary(rows)
    return results


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    import numpy as np

    def ms(values: list[float]) -> dict[str, float]:
        if not values:
            return {}
        array = np.array(values) * 1000
        return {"p50": float(np.percentile(array, 50)), "p99": float(np.percentile(array, 99)),
                "max": float(array.max()), "photos": len(values)}

    at_once = [row for row in rows if row["pass"] == "direct"]
    rescued = [row for row in rows if row["pass"] != "direct"]
    return {
        "photos": len(rows),
        "jdzhi_genuine": sum(row["genuine"] for row in rows),
        "plain_zxing_read": sum(row["plain"] for row in rows),
        "wrong_genuine": sum(row["wrong_genuine"] for row in rows),
        "passes": {name: sum(str(row["pass"]) == name for row in rows)
                   for name in sorted({str(row["pass"]) for row in rows})},
        "cpu_ms_all": ms([row["cpu"] for row in rows]),
        "cpu_ms_at_once": ms([row["cpu"] for row in at_once]),
        "plain_cpu_ms_at_once": ms([row["plain_cpu"] for row in at_once]),
        "cpu_ms_rescue": ms([row["cpu"] for row in rescued]),
    }


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} % ({part}/{whole})" if whole else "-"


def _cpu(figures: dict[str, float]) -> str:
    if not figures:
        return "-"
    return f"p50 {figures['p50']:.0f} / p99 {figures['p99']:.0f} ms"


def rows(quick: bool) -> list[Row]:
    figures = measure(12 if quick else 100)
    table = []
    for name, band in figures["bands"].items():
        table.append(Row(
            f"field scan, {name} band",
            f"{_share(band['jdzhi_genuine'], band['photos'])} genuine, "
            f"{band['wrong_genuine']} wrong genuine (`jdzhi scan`)",
            f"{_share(band['plain_zxing_read'], band['photos'])} read (one zxing-cpp pass)",
            f"simulated field photos, seeds from {figures['first_seed']:,}, "
            f"{figures['backgrounds']} backgrounds"))
    at_once = figures["bands"]["mild"]
    hard = figures["bands"]["hard"]
    table.append(Row("field scan CPU, photo read at once",
                     f"{_cpu(at_once['cpu_ms_at_once'])} (open, decode, verify)",
                     f"{_cpu(at_once['plain_cpu_ms_at_once'])} (open + one zxing-cpp pass)",
                     "mild band, one core"))
    table.append(Row("field scan CPU, hard photo",
                     f"{_cpu(hard['cpu_ms_all'])}, max {hard['cpu_ms_all']['max']:.0f} ms",
                     "-", f"rescued or failed: {_cpu(hard['cpu_ms_rescue'])}; target <= 300 ms"))
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_field_scan",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="12 photos per band, not 100")
    parser.add_argument("--count", type=int, help="photos per band")
    parser.add_argument("--seeds", type=int, default=HELD_OUT_SEEDS, help="first seed")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = measure(args.count or (12 if args.quick else 100), args.seeds)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {figures['photos_per_band']} "
          f"photos per band, seeds from {figures['first_seed']:,}, {figures['backgrounds']}")
    for name, band in figures["bands"].items():
        print(f"{name:<7} jdzhi {_share(band['jdzhi_genuine'], band['photos']):>14}  "
              f"plain zxing-cpp {_share(band['plain_zxing_read'], band['photos']):>14}  "
              f"wrong genuine {band['wrong_genuine']}  passes {band['passes']}")
        print(f"        CPU all {_cpu(band['cpu_ms_all'])}; read at once "
              f"{_cpu(band['cpu_ms_at_once'])} (plain {_cpu(band['plain_cpu_ms_at_once'])}); "
              f"rescue {_cpu(band['cpu_ms_rescue'])}")


if __name__ == "__main__":
    main()
