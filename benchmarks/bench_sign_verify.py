"""Sign and verify throughput beside raw Ed25519, in the same run.

Targets (issue 3): >= 10,000 records signed per second and >= 5,000 verified per second,
in-process. A record costs two Ed25519 signatures (the full COSE record and the label) and is
verified through one (a label) or one plus a label (a SIGNED.jsonl line).

Run: .venv/bin/python -m benchmarks.bench_sign_verify [COUNT]   (default 20000 records)
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def rate(label: str, count: int, action: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - start
    print(f"{label:<52} {count / seconds:10,.0f} /s   ({seconds * 1000:8.1f} ms for {count})")
    return result


def main(count: int) -> None:
    from jdzhi.home import Home
    from jdzhi.registry.db import open_registry
    from jdzhi.registry.entries import add_entry
    from jdzhi.registry.uscc import generate as generate_uscc
    from jdzhi.trace.ed25519 import verify
    from jdzhi.trace.format import RecordFields, sign_record
    from jdzhi.trace.keys import initialize_home, issue_licensee_key
    from jdzhi.trace.keystore import generate, load_key
    from jdzhi.trace.signing import sign_csv
    from jdzhi.trace.snapshot import trust_from_registry
    from jdzhi.trace.verify import verify_label_text, verify_record, verify_signed_line

    print(f"{count} records, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    key = generate()
    message = b"jdzhi/label/1\x00" + bytes(13)
    signature = key.sign(message)
    rate("raw Ed25519 sign (27-byte message)", count,
         lambda: [key.sign(message) for _ in range(count)])
    rate("raw Ed25519 verify (cached public key)", count,
         lambda: [verify(key.public_key, signature, message) for _ in range(count)])

    fields = [RecordFields(1, 10_000 + i, 1_773_100_000, 1, 1, "B1", "qinghua", date(2026, 3, 1))
              for i in range(count)]
    rate("sign_record: COSE record + label (2 signatures)", count,
         lambda: [sign_record(f, key.sign) for f in fields])

    with tempfile.TemporaryDirectory() as folder:
        home = Home(Path(folder) / "home")
        os.environ["JDZHI_NOW"] = "2026-03-10T09:00:00+08:00"
        passphrase = b"benchmark passphrase"
        initialize_home(home, passphrase, None)
        db = open_registry(home)
        add_entry(db, {"uscc": generate_uscc(random.Random(1), division_code="360203"),
                       "name": "景德镇市样本陶瓷有限公司", "district_code": "360203",
                       "license_no": "JDZ-BENCH-0001", "categories": "qinghua",
                       "valid_from": "2026-01-01", "valid_to": "2030-12-31"})
        key_path = Path(folder) / "bench.key"
        issue_licensee_key(home, db, "JDZ-BENCH-0001", out=key_path,
                           authority_passphrase=passphrase, key_passphrase=passphrase)
        licensee = load_key(key_path, passphrase)
        csv_path = Path(folder) / "records.csv"
        csv_path.write_text("serial,batch,category,production_date\n" + "".join(
            f"{100_000 + i},B1,qinghua,2026-03-01\n" for i in range(count)), encoding="utf-8")
        out = Path(folder) / "signed.jsonl"
        rate("sign_csv: validate, sign, store, write JSONL", count,
             lambda: sign_csv(db, csv_path, key=licensee, out=out))
        trust = trust_from_registry(db)
        db.close()
        signed_lines = out.read_text(encoding="utf-8").splitlines()
        import json

        labels = [json.loads(line)["label"] for line in signed_lines]
        from jdzhi.trace.format import base64url_decode

        records = [base64url_decode(json.loads(line)["record"]) for line in signed_lines]
        results = rate("verify_label_text", count,
                       lambda: [verify_label_text(text, trust) for text in labels])
        assert all(result.genuine for result in results)
        rate("verify_record (full COSE record)", count,
             lambda: [verify_record(record, trust) for record in records])
        rate("verify_signed_line (record + label + agreement)", count,
             lambda: [verify_signed_line(line, trust) for line in signed_lines])


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
