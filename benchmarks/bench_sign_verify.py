"""Sign and verify throughput beside raw Ed25519 (libsodium and OpenSSL), in the same run.

    .venv/bin/python -m benchmarks.bench_sign_verify [--quick] [--count N]

Targets (issue 3): >= 10,000 records signed per second and >= 5,000 verified per second,
in-process. A record costs two Ed25519 signatures (its COSE full record and its label); a label
costs one verification, a SIGNED.jsonl line two (record and label) plus their agreement.

Figures, each as records per second over the same generated records (serials in sequence, one
enterprise, one category; generated here, not real production data):
- raw Ed25519 sign and verify of a label-sized message through libsodium (PyNaCl, what jdzhi
  uses) and through OpenSSL (``cryptography``), one process, the best of interleaved batches;
- ``sign_record`` (both signatures and encodings, one process);
- ``sign_csv`` in-process: read, check every row against the registry, sign, store in SQLite,
  write SIGNED.jsonl; with ``parallel=True`` (worker processes on every core) and without; the
  best of 3 and 2 runs (new serials each), as this host's speed varies by a quarter from minute
  to minute;
- ``Verifier.label_text`` for every label with one verifier, ``verify_label_text`` (a verifier
  per call), both in one process, and ``verify_jsonl`` with and without workers;
- the ``jdzhi sign`` and ``jdzhi verify`` commands as processes (start-up and key decryption
  included).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import TypeVar

from benchmarks.run import PASSPHRASE, Row, _jdzhi, _licensed_home, _records_csv, per_second, timed

T = TypeVar("T")
MESSAGE = b"jdzhi/label/1\x00" + bytes(13)


def _best(action: Callable[[], T], repeats: int = 2) -> tuple[T, float]:
    """The result and the shortest time of ``repeats`` runs (a busy machine only slows a run)."""
    runs = [timed(action) for _ in range(repeats)]
    return runs[0][0], min(seconds for _, seconds in runs)


def _raw(count: int) -> dict[str, float]:
    """Seconds per ``count`` raw operations of each library: the best of interleaved batches,
    so that a change in the machine's load does not favour whichever ran first."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from jdzhi.trace.ed25519 import verify
    from jdzhi.trace.keys.keyfile import generate

    key = generate()
    signature = key.sign(MESSAGE)
    openssl = Ed25519PrivateKey.generate()
    openssl_public = openssl.public_key()
    openssl_signature = openssl.sign(MESSAGE)
    actions: dict[str, Callable[[], object]] = {
        "libsodium sign": lambda: key.sign(MESSAGE),
        "OpenSSL sign": lambda: openssl.sign(MESSAGE),
        "libsodium verify": lambda: verify(key.public_key, signature, MESSAGE),
        "OpenSSL verify": lambda: openssl_public.verify(openssl_signature, MESSAGE),
    }
    batch = 500
    best = dict.fromkeys(actions, float("inf"))
    for _ in range(max(5, count // (5 * batch))):
        for name, action in actions.items():
            _, seconds = timed(lambda: [action() for _ in range(batch)])  # noqa: B023
            best[name] = min(best[name], seconds)
    return {name: seconds * count / batch for name, seconds in best.items()}


def measure(count: int) -> dict[str, float]:
    """Seconds for ``count`` items of every figure (see the module docstring)."""
    from jdzhi.home import Home
    from jdzhi.registry.db import open_registry
    from jdzhi.trace.formats.records import RecordFields, sign_record
    from jdzhi.trace.keys.keyfile import generate, load_key
    from jdzhi.trace.signing.batch import sign_csv
    from jdzhi.trace.trust.from_registry import trust_from_registry
    from jdzhi.trace.verification.verifier import Verifier, verify_jsonl, verify_label_text

    seconds = _raw(count)
    key = generate()
    fields = [RecordFields(1, 10_000 + i, 1_773_100_000, 1, 1, "B1", "qinghua",
                           date(2026, 3, 1)) for i in range(count)]
    seconds["sign_record"] = _best(lambda: [sign_record(f, key.sign) for f in fields])[1]
    os.environ.pop("JDZHI_WORKERS", None)
    with _licensed_home() as (home, key_file):
        folder = home.parent
        db = open_registry(Home(home))
        try:
            licensee = load_key(key_file, PASSPHRASE.encode())
            # each run signs new serials; the best of a few runs, as the host's speed varies
            for name, parallel, runs in (("sign_csv", False, 2), ("sign_csv parallel", True, 3)):
                for run in range(runs):
                    start = (1 + parallel) * 100_000_000 + run * 10_000_000
                    _, run_seconds = timed(partial(
                        sign_csv, db, _records_csv(folder / f"{start}.csv", start, count),
                        key=licensee, out=folder / f"{start}.jsonl", parallel=parallel))
                    seconds[name] = min(seconds.get(name, run_seconds), run_seconds)
            trust = trust_from_registry(db)
        finally:
            db.close()
        signed = folder / "200000000.jsonl"
        labels = [json.loads(line)["label"] for line in signed.read_text().splitlines()]
        results, seconds["Verifier.label_text"] = _best(
            lambda: [verifier.label_text(text) for verifier in [Verifier(trust)]
                     for text in labels])
        assert all(result.genuine for result in results)
        results, seconds["verify_label_text"] = _best(
            lambda: [verify_label_text(text, trust) for text in labels])
        assert all(result.genuine for result in results)
        for name, parallel in (("verify_jsonl", False), ("verify_jsonl parallel", True)):
            results, seconds[name] = _best(partial(verify_jsonl, signed, trust,
                                                   parallel=parallel))
            assert len(results) == count and all(result.genuine for result in results)
        cli_csv = _records_csv(folder / "cli.csv", 300_000_000, count)
        cli_out = folder / "cli.jsonl"
        seconds["jdzhi sign"] = _jdzhi(home, "sign", str(cli_csv), "--key", str(key_file),
                                       "--out", str(cli_out), "--json")
        again = _records_csv(folder / "cli2.csv", 310_000_000, count)
        seconds["jdzhi sign"] = min(seconds["jdzhi sign"], _jdzhi(
            home, "sign", str(again), "--key", str(key_file), "--out", str(folder / "cli2.jsonl"),
            "--json"))
        seconds["jdzhi verify"] = _jdzhi(home, "verify", str(cli_out), "--json")
    return seconds


def _count(quick: bool) -> int:
    return 5_000 if quick else 50_000


def rows(quick: bool) -> list[Row]:
    count = _count(quick)
    s = measure(count)

    def rate(name: str) -> str:
        return per_second(count, s[name])

    return [
        Row("sign/s",
            f"{rate('sign_csv parallel')} sign_csv on all cores ({os.cpu_count()}), "
            f"{rate('sign_csv')} in one process; {rate('jdzhi sign')} `jdzhi sign` "
            f"({count:,} records, start-up included; best of 2-3 runs)",
            f"sign_record {rate('sign_record')}; raw Ed25519 sign: libsodium "
            f"{rate('libsodium sign')}, OpenSSL {rate('OpenSSL sign')}",
            "target >= 10,000/s; a record is 2 signatures"),
        Row("verify/s",
            f"{rate('Verifier.label_text')} labels (one process, one Verifier; "
            f"{rate('verify_label_text')} one call each); SIGNED.jsonl lines: "
            f"{rate('verify_jsonl parallel')} on all cores, {rate('verify_jsonl')} in one "
            f"process; {rate('jdzhi verify')} `jdzhi verify`",
            f"raw Ed25519 verify: libsodium {rate('libsodium verify')}, OpenSSL "
            f"{rate('OpenSSL verify')}",
            "target >= 5,000/s; a line is 2 verifications + agreement"),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_sign_verify",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5,000 records instead of 50,000")
    parser.add_argument("--count", type=int, help="records per figure")
    args = parser.parse_args(argv)
    count = args.count or _count(args.quick)
    print(f"{count:,} records, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    for name, seconds in measure(count).items():
        print(f"{name:<24} {count / seconds:10,.0f} /s   ({seconds * 1000:9.1f} ms)")


if __name__ == "__main__":
    main()
