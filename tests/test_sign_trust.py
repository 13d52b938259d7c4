"""`jdzhi sign --trust BUNDLE`: a workshop signs in its own home, which has no registry, against
the service center's trust bundle; its home keeps what it signed (workshop.db)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke
from trace_support import LICENSE_NO, add_enterprise, issue_key, records, set_now, write_csv

from jdzhi.errors import ExitCode
from jdzhi.home import Home
from jdzhi.trace.formats.labels import DEFAULT_BASE_URL

#: the moments of the story: the key is issued and the first bundle exported, then the workshop
#: signs, then the center suspends the license and exports again
ISSUED = "2026-03-10T09:00:00+08:00"
SIGNING = "2026-03-10T10:00:00+08:00"
SUSPENDED = "2026-03-12T09:00:00+08:00"


@dataclass(frozen=True)
class Kiln:
    """The service center's home and what it handed to a workshop, and the workshop's home."""

    center: Home
    key: Path
    bundle: Path
    authority: Path
    workshop: Path
    tmp: Path

    def sign(self, cli: Invoke, rows: list[dict[str, str]], name: str, *extra: str,
             bundle: Path | None = None) -> tuple[Any, Path]:
        source = write_csv(self.tmp / f"{name}.csv", rows)
        out = self.tmp / f"{name}.jsonl"
        result = cli("--home", str(self.workshop), "sign", str(source), "--key", str(self.key),
                     "--out", str(out), "--trust", str(bundle or self.bundle), "--authority",
                     str(self.authority), "--json", *extra)
        return result, out

    def stored(self) -> list[tuple[str, str]]:
        """(serial, batch) of every record the workshop's store holds."""
        path = self.workshop / "workshop.db"
        if not path.exists():
            return []
        with sqlite3.connect(path) as conn:
            return [(str(serial), str(batch)) for serial, batch in conn.execute(
                "SELECT serial, batch FROM signed_records ORDER BY id")]

    def export(self, cli: Invoke, name: str) -> Path:
        bundle = self.tmp / name
        result = cli("--home", str(self.center.path), "trust", "export", "--out", str(bundle))
        assert result.exit_code == 0, result.output
        return bundle


@pytest.fixture
def kiln(cli: Invoke, initialized: Home, tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> Kiln:
    set_now(monkeypatch, ISSUED)
    add_enterprise(cli)
    key = issue_key(cli, tmp_path)
    bundle = tmp_path / "trust.cbor"
    assert cli("trust", "export", "--out", str(bundle)).exit_code == 0
    authority = tmp_path / "authority.pub"
    shutil.copy(initialized.keys_dir / "authority.pub", authority)
    set_now(monkeypatch, SIGNING)
    return Kiln(initialized, key, bundle, authority, tmp_path / "workshop-home", tmp_path)


def _refused(result: Any, code: ExitCode, *words: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.stderr, result.stderr


def test_a_workshop_signs_what_every_verifier_accepts(cli: Invoke, kiln: Kiln) -> None:
    result, out = kiln.sign(cli, records(3), "kiln")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["signed"] == 3 and summary["already_signed"] == 0
    assert summary["stored_in"] == "workshop" and summary["trust"].startswith("bundle ")
    assert summary["license_no"] == LICENSE_NO and summary["base_url"] == DEFAULT_BASE_URL
    assert not (kiln.workshop / "registry.db").exists()
    assert kiln.stored() == [("1001", "B1"), ("1002", "B1"), ("1003", "B1")]
    offline = cli("--home", str(kiln.workshop), "verify", str(out), "--trust", str(kiln.bundle),
                  "--authority", str(kiln.authority), "--json")
    assert offline.exit_code == 0, offline.output
    assert [r["verdict"] for r in json.loads(offline.stdout)] == ["genuine"] * 3
    center = cli("verify", str(out), "--json")  # the center's own home, its registry
    assert center.exit_code == 0, center.output
    assert [r["verdict"] for r in json.loads(center.stdout)] == ["genuine"] * 3


def test_the_lines_are_byte_for_byte_those_the_center_signs(cli: Invoke, kiln: Kiln) -> None:
    """Ed25519 is deterministic: the same rows, key and moment give the same SIGNED.jsonl bytes
    whether the registry or the bundle vouched for the key."""
    rows = [{**row, "name": "", "ware_class": ""} for row in records(4)]
    rows[1]["name"] = "青花缠枝莲纹碗"
    rows[2]["ware_class"] = "flat"
    result, out = kiln.sign(cli, rows, "kiln")
    assert result.exit_code == 0, result.output
    center_out = kiln.tmp / "center.jsonl"
    at_center = cli("sign", str(kiln.tmp / "kiln.csv"), "--key", str(kiln.key), "--out",
                    str(center_out))
    assert at_center.exit_code == 0, at_center.output
    assert out.read_bytes() == center_out.read_bytes()


def test_a_rerun_writes_the_stored_records_again(
    cli: Invoke, kiln: Kiln, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, out = kiln.sign(cli, records(3), "first")
    assert first.exit_code == 0, first.output
    set_now(monkeypatch, "2026-03-10T11:00:00+08:00")
    again, again_out = kiln.sign(cli, records(3), "again")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["already_signed"] == 3
    assert again_out.read_bytes() == out.read_bytes()
    more, more_out = kiln.sign(cli, records(5), "more")
    assert more.exit_code == 0, more.output
    summary = json.loads(more.stdout)
    assert (summary["signed"], summary["already_signed"]) == (5, 3)
    assert more_out.read_bytes().startswith(out.read_bytes())
    assert len(kiln.stored()) == 5
    with sqlite3.connect(kiln.workshop / "workshop.db") as conn:
        runs = conn.execute("SELECT count, first_serial, last_serial FROM signing_runs "
                            "ORDER BY id").fetchall()
    assert runs == [(3, "1001", "1003"), (2, "1004", "1005")]


def test_another_repeat_of_a_serial_is_a_conflict_with_its_row(cli: Invoke, kiln: Kiln) -> None:
    assert kiln.sign(cli, records(2), "first")[0].exit_code == 0
    rows = records(1, start=2001) + records(1, batch="B2")
    result, out = kiln.sign(cli, rows, "clash")
    _refused(result, ExitCode.CONFLICT, "row 3", "serial 1001", "nothing was signed")
    assert not out.exists() and kiln.stored() == [("1001", "B1"), ("1002", "B1")]


def test_a_category_the_license_does_not_cover_is_refused(cli: Invoke, kiln: Kiln) -> None:
    rows = records(2) + records(1, start=1003, category="linglong")
    result, out = kiln.sign(cli, rows, "linglong")
    _refused(result, ExitCode.INVALID_STATE, "row 4", "does not cover category linglong")
    assert not out.exists() and kiln.stored() == []


def test_a_suspension_in_a_newer_bundle_stops_signing_and_an_older_bundle_is_refused(
    cli: Invoke, kiln: Kiln, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert kiln.sign(cli, records(1), "before")[0].exit_code == 0
    set_now(monkeypatch, SUSPENDED)
    suspend = cli("registry", "suspend", LICENSE_NO, "--reason", "kiln inspection")
    assert suspend.exit_code == 0, suspend.output
    newer = kiln.export(cli, "newer.cbor")
    result, out = kiln.sign(cli, records(2, start=1002), "suspended", bundle=newer)
    _refused(result, ExitCode.INVALID_STATE, f"license {LICENSE_NO}", "suspended now",
             "nothing was signed")
    assert not out.exists()
    # the newer bundle was accepted (remembered): going back to the one before it is a rollback
    older, older_out = kiln.sign(cli, records(2, start=1002), "older")
    _refused(older, ExitCode.INTEGRITY, "rollback refused")
    assert not older_out.exists() and kiln.stored() == [("1001", "B1")]


def test_a_key_the_bundle_does_not_certify_is_unknown(
    cli: Invoke, kiln: Kiln, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_now(monkeypatch, "2026-03-10T09:30:00+08:00")  # issued after the bundle was exported
    later = issue_key(cli, kiln.tmp, name="later.key")
    set_now(monkeypatch, SIGNING)
    source = write_csv(kiln.tmp / "later.csv", records(1))
    out = kiln.tmp / "later.jsonl"
    result = cli("--home", str(kiln.workshop), "sign", str(source), "--key", str(later),
                 "--out", str(out), "--trust", str(kiln.bundle), "--authority",
                 str(kiln.authority))
    _refused(result, ExitCode.KEY_ERROR, "unknown key", "does not certify this key")
    assert not out.exists() and kiln.stored() == []


def test_a_base_the_bundle_does_not_list_is_refused(
    cli: Invoke, kiln: Kiln, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, out = kiln.sign(cli, records(1), "base", "--base-url", "HTTPS://ELSEWHERE.CN/V/")
    _refused(result, ExitCode.INVALID_INPUT, "HTTPS://ELSEWHERE.CN/V/",
             "not one the trust bundle lists")
    monkeypatch.setenv("JDZHI_BASE_URL", "HTTPS://ELSEWHERE.CN/V/")
    from_env, _ = kiln.sign(cli, records(1), "env")
    _refused(from_env, ExitCode.INVALID_INPUT, "not one the trust bundle lists")
    assert not out.exists() and kiln.stored() == []
    listed, _ = kiln.sign(cli, records(1), "listed", "--base-url", DEFAULT_BASE_URL)
    assert listed.exit_code == 0, listed.output


def test_bad_bundles_are_refused_as_verify_refuses_them(
    cli: Invoke, kiln: Kiln, initialized: Home
) -> None:
    missing, _ = kiln.sign(cli, records(1), "missing", bundle=kiln.tmp / "nowhere.cbor")
    _refused(missing, ExitCode.INVALID_INPUT, "cannot read trust bundle")
    damaged = kiln.tmp / "damaged.cbor"
    data = bytearray(kiln.bundle.read_bytes())
    data[len(data) // 2] ^= 1
    damaged.write_bytes(bytes(data))
    altered, _ = kiln.sign(cli, records(1), "damaged", bundle=damaged)
    _refused(altered, ExitCode.INTEGRITY)
    other = kiln.tmp / "other-home"
    assert cli("--home", str(other), "init").exit_code == 0
    foreign = kiln.tmp / "foreign.cbor"
    assert cli("--home", str(other), "trust", "export", "--out", str(foreign)).exit_code == 0
    unsigned, _ = kiln.sign(cli, records(1), "foreign", bundle=foreign)
    _refused(unsigned, ExitCode.INTEGRITY, "not signed by the authority key")
    no_authority = cli("--home", str(kiln.workshop), "sign", str(kiln.tmp / "foreign.csv"),
                       "--key", str(kiln.key), "--out", str(kiln.tmp / "x.jsonl"), "--trust",
                       str(kiln.bundle))
    _refused(no_authority, ExitCode.INVALID_INPUT, "--authority")
    assert kiln.stored() == [] and not list(kiln.tmp.glob("*.jsonl"))


def test_a_home_with_no_registry_and_no_bundle_says_how_a_workshop_signs(
    cli: Invoke, kiln: Kiln
) -> None:
    source = write_csv(kiln.tmp / "plain.csv", records(1))
    result = cli("--home", str(kiln.workshop), "sign", str(source), "--key", str(kiln.key),
                 "--out", str(kiln.tmp / "plain.jsonl"))
    _refused(result, ExitCode.NOT_INITIALIZED, "jdzhi init", "--trust")
    assert not (kiln.workshop / "workshop.db").exists()


def test_a_stale_bundle_is_refused(
    cli: Invoke, kiln: Kiln, monkeypatch: pytest.MonkeyPatch
) -> None:
    aged, _ = kiln.sign(cli, records(1), "aged", "--max-age", "0")
    _refused(aged, ExitCode.INVALID_STATE, "expired", "get a fresh one")
    set_now(monkeypatch, "2026-05-01T10:00:00+08:00")  # after the 30 days of the bundle
    late, _ = kiln.sign(cli, records(1), "late")
    _refused(late, ExitCode.INVALID_STATE, "expired")
    assert kiln.stored() == []


def test_a_registry_home_given_a_bundle_checks_it_and_stores_in_the_registry(
    cli: Invoke, kiln: Kiln, initialized: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_csv(kiln.tmp / "center.csv", records(2))
    out = kiln.tmp / "center.jsonl"
    result = cli("sign", str(source), "--key", str(kiln.key), "--out", str(out), "--trust",
                 str(kiln.bundle), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stored_in"] == "registry"
    with sqlite3.connect(initialized.db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM signed_records").fetchone()[0] == 2
    audit = cli("registry", "audit")
    assert audit.exit_code == 0, audit.output
    # the bundle is what vouches: a suspension the bundle shows stops signing here too
    set_now(monkeypatch, SUSPENDED)
    assert cli("registry", "suspend", LICENSE_NO, "--reason", "inspection").exit_code == 0
    newer = kiln.export(cli, "newer.cbor")
    refused = cli("sign", str(source), "--key", str(kiln.key), "--out", str(kiln.tmp / "n.jsonl"),
                  "--trust", str(newer))
    _refused(refused, ExitCode.INVALID_STATE, "suspended now")


def test_jdzhi_now_moves_the_clock_only_of_a_workshop_home_made_with_it(
    cli: Invoke, kiln: Kiln, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jdzhi.trace.signing._workshop_store import open_workshop_store

    real = kiln.tmp / "real-clock-home"
    monkeypatch.delenv("JDZHI_NOW")
    open_workshop_store(Home(real)).close()  # a workshop home made on the real clock
    set_now(monkeypatch, SIGNING)
    moved, out = Kiln(kiln.center, kiln.key, kiln.bundle, kiln.authority, real,
                      kiln.tmp).sign(cli, records(1), "moved")
    _refused(moved, ExitCode.USAGE, "JDZHI_NOW")
    assert not out.exists()
    made_with_it, _ = kiln.sign(cli, records(1), "simulated")
    assert made_with_it.exit_code == 0, made_with_it.output


@pytest.mark.slow
def test_kill_9_of_a_workshop_run_then_rerun(tmp_path: Path) -> None:
    """SIGKILL while the output is being written (the commit comes next): the workshop store
    holds all of the batch or none of it, no output file, and the same command completes it."""
    import os
    import signal
    import time
    from collections import Counter

    from hardening_support import build_world, csv_text, jdzhi_process, ok, run

    world = build_world(tmp_path / "center")
    workshop = tmp_path / "workshop-home"
    count = 10_000
    source = tmp_path / "big.csv"
    source.write_text(csv_text(range(100_001, 100_001 + count)), encoding="utf-8")
    out = tmp_path / "big.jsonl"
    args = ("sign", str(source), "--key", str(world.key), "--out", str(out), "--trust",
            str(world.bundle), "--authority", world.authority_public_key, "--json")
    process = jdzhi_process(workshop, *args)
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        if any(tmp_path.glob(".big.jsonl.*.partial")):
            os.killpg(process.pid, signal.SIGKILL)
            break
        time.sleep(0.002)
    process.communicate()
    assert process.returncode == -signal.SIGKILL, "the command finished before the kill"
    stored = Kiln(world.home, world.key, world.bundle, tmp_path, workshop, tmp_path).stored
    assert len(stored()) in (0, count) and not out.exists()
    rerun = json.loads(ok(run(workshop, *args)).stdout)
    assert rerun["signed"] == count and len(stored()) == count
    assert not [serial for serial, n in Counter(s for s, _ in stored()).items() if n > 1]
    assert len(out.read_text(encoding="utf-8").splitlines()) == count
    assert not list(tmp_path.glob(".big.jsonl.*.partial"))
    # exit 0 only when every record is genuine
    ok(run(workshop, "verify", str(out), "--trust", str(world.bundle), "--authority",
           world.authority_public_key))


def test_records_of_two_authorities_never_share_a_store(
    cli: Invoke, kiln: Kiln, tmp_path: Path
) -> None:
    """Enterprise and key ids are those of one registry: a workshop home that signed under one
    authority refuses a bundle of another, and a registry home refuses a bundle not its own."""
    from hardening_support import build_world, run

    assert kiln.sign(cli, records(1), "first")[0].exit_code == 0
    other = build_world(tmp_path / "other-center")
    source = write_csv(tmp_path / "other.csv", records(1, start=5001))
    args = ("sign", str(source), "--key", str(other.key), "--out", str(tmp_path / "o.jsonl"),
            "--trust", str(other.bundle), "--authority", other.authority_public_key)
    _refused(run(kiln.workshop, *args), ExitCode.INVALID_STATE, "signed under another authority")
    at_center = cli("sign", str(source), "--key", str(kiln.key), "--out", str(tmp_path / "c.jsonl"),
                    "--trust", str(other.bundle), "--authority", other.authority_public_key)
    _refused(at_center, ExitCode.INVALID_STATE, "another authority than this home's registry")
    assert kiln.stored() == [("1001", "B1")] and not list(tmp_path.glob("?.jsonl"))
    fresh = tmp_path / "fresh-workshop"
    assert run(fresh, *args).exit_code == 0


def test_a_workshop_store_is_never_signed_into_without_a_bundle(kiln: Kiln) -> None:
    from conftest import TEST_PASSPHRASE

    from jdzhi.errors import InvalidInput
    from jdzhi.trace.keys.keyfile import load_key
    from jdzhi.trace.signing._workshop_store import open_workshop_store
    from jdzhi.trace.signing.batch import sign_csv

    db = open_workshop_store(Home(kiln.workshop))
    try:
        with pytest.raises(InvalidInput, match="only against a trust bundle"):
            sign_csv(db, write_csv(kiln.tmp / "lib.csv", records(1)),
                     key=load_key(kiln.key, TEST_PASSPHRASE.encode()), out=kiln.tmp / "lib.jsonl")
    finally:
        db.close()
    assert kiln.stored() == [] and not (kiln.tmp / "lib.jsonl").exists()


def test_a_required_witness_is_checked_as_verify_checks_it(cli: Invoke, kiln: Kiln) -> None:
    result, out = kiln.sign(cli, records(1), "witness", "--witness", str(kiln.authority))
    _refused(result, ExitCode.INVALID_INPUT, "is not a testing-center key this trust certifies")
    assert not out.exists() and kiln.stored() == []
    alone = cli("--home", str(kiln.workshop), "sign", str(kiln.tmp / "witness.csv"), "--key",
                str(kiln.key), "--out", str(out), "--authority", str(kiln.authority))
    _refused(alone, ExitCode.INVALID_INPUT, "give --trust FILE too")
