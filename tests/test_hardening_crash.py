"""Crash safety of `jdzhi sign`: a process killed with SIGKILL at any moment leaves a sound
registry (integrity check, audit chain), no half-written record or output file, and running the
same command again completes the batch without a duplicate serial."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from hardening_support import (
    World,
    assert_registry_sound,
    build_world,
    csv_text,
    jdzhi_process,
    ok,
    run,
)

from jdzhi.errors import ExitCode
from jdzhi.trace.verification.result import Verdict
from jdzhi.trace.verification.verifier import load_trust, verify_label_text, verify_record


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path, count=3)


def _stored(world: World) -> list[tuple[str, bytes, str]]:
    with sqlite3.connect(world.home.db_path) as conn:
        return conn.execute("SELECT serial, record, label FROM signed_records "
                            "WHERE serial NOT IN ('1001', '1002', '1003') ORDER BY id").fetchall()


def _sign_actions(world: World) -> list[dict[str, int]]:
    with sqlite3.connect(world.home.db_path) as conn:
        return [json.loads(details) for (details,) in conn.execute(
            "SELECT details FROM audit_log WHERE action = 'records.sign' ORDER BY seq")]


def _assert_sound(world: World) -> None:
    """Integrity check, audit chain, every stored record whole and genuine, counts that add up."""
    assert_registry_sound(world)
    trust = load_trust(home=world.home)
    stored = _stored(world)
    for serial, record, label in stored:
        assert verify_record(record, trust).verdict is Verdict.GENUINE, serial
        assert verify_label_text(label, trust).verdict is Verdict.GENUINE, serial
    assert sum(action["count"] for action in _sign_actions(world)) == len(stored) + 3


def _sign_args(world: World, source: Path, out: Path) -> tuple[str, ...]:
    return ("sign", str(source), "--key", str(world.key), "--out", str(out), "--json")


def test_a_rerun_after_the_output_was_lost_writes_the_stored_records_again(
    world: World, tmp_path: Path
) -> None:
    """The moment between the commit and the output file: the records are stored, the file
    is missing. The same command then writes them out exactly as stored and stores nothing."""
    source = tmp_path / "batch.csv"
    source.write_text(csv_text(range(5001, 5006)), encoding="utf-8")
    out = tmp_path / "batch.jsonl"
    first = json.loads(ok(run(world.home.path, *_sign_args(world, source, out))).stdout)
    written = out.read_bytes()
    out.unlink()
    again = json.loads(ok(run(world.home.path, *_sign_args(world, source, out),
                              env={"JDZHI_NOW": "2026-03-11T10:00:00+08:00"})).stdout)
    assert again["signed"] == 5 and again["already_signed"] == 5
    assert out.read_bytes() == written
    assert again["records_sha256"] == first["records_sha256"]
    assert len(_stored(world)) == 5 and len(_sign_actions(world)) == 2
    _assert_sound(world)


def test_a_rerun_of_a_longer_file_signs_only_the_new_rows(world: World, tmp_path: Path) -> None:
    source = tmp_path / "batch.csv"
    source.write_text(csv_text(range(5001, 5004)), encoding="utf-8")
    ok(run(world.home.path, *_sign_args(world, source, tmp_path / "part.jsonl")))
    source.write_text(csv_text(range(5001, 5007)), encoding="utf-8")
    out = tmp_path / "whole.jsonl"
    summary = json.loads(ok(run(world.home.path, *_sign_args(world, source, out))).stdout)
    assert summary["signed"] == 6 and summary["already_signed"] == 3
    assert [json.loads(line)["serial"] for line in out.read_text().splitlines()] == [
        str(serial) for serial in range(5001, 5007)]
    assert _sign_actions(world)[-1]["count"] == 3
    _assert_sound(world)


def test_a_stored_serial_with_other_content_or_another_key_is_still_refused(
    world: World, tmp_path: Path
) -> None:
    source = tmp_path / "batch.csv"
    source.write_text(csv_text(range(5001, 5004)), encoding="utf-8")
    ok(run(world.home.path, *_sign_args(world, source, tmp_path / "first.jsonl")))
    source.write_text(csv_text(range(5001, 5004), day="2026-03-02"), encoding="utf-8")
    changed = run(world.home.path, *_sign_args(world, source, tmp_path / "changed.jsonl"))
    assert changed.exit_code == ExitCode.CONFLICT
    assert "row 2: serial 5001 was signed before" in changed.stderr
    rotated = tmp_path / "rotated.key"
    ok(run(world.home.path, "keys", "rotate", "1", "--out", str(rotated)))
    source.write_text(csv_text(range(5001, 5004)), encoding="utf-8")
    other_key = run(world.home.path, "sign", str(source), "--key", str(rotated), "--out",
                    str(tmp_path / "other.jsonl"))
    assert other_key.exit_code == ExitCode.CONFLICT, other_key.output
    assert not (tmp_path / "changed.jsonl").exists() and not (tmp_path / "other.jsonl").exists()
    assert len(_stored(world)) == 3


def test_a_temporary_output_left_by_a_dead_process_is_removed(
    world: World, tmp_path: Path
) -> None:
    out = tmp_path / "batch.jsonl"
    dead = subprocess.Popen(["true"])
    dead.wait()
    leftover = tmp_path / f".batch.jsonl.{dead.pid}.partial"
    leftover.write_text('{"serial":"50', encoding="utf-8")
    other = subprocess.Popen(["sleep", "60"])
    try:
        alive = tmp_path / f".batch.jsonl.{other.pid}.partial"
        alive.write_text("another run still writing", encoding="utf-8")
        source = tmp_path / "batch.csv"
        source.write_text(csv_text(range(5001, 5003)), encoding="utf-8")
        ok(run(world.home.path, *_sign_args(world, source, out)))
        assert not leftover.exists() and alive.exists()
    finally:
        other.kill()
        other.wait()


def _group_processes(group: int) -> int:
    """How many processes the process group has (the command, its fork server and workers)."""
    count = 0
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        count += int(fields[2]) == group
    return count


def _wal_size(world: World) -> int:
    wal = world.home.db_path.with_name(world.home.db_path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def _kill_when(process: subprocess.Popen[bytes], moment: str, out: Path, world: World) -> bool:
    """SIGKILL the process group at ``moment``; False if the command finished first."""
    deadline = time.monotonic() + 300
    wal_before = _wal_size(world)
    while process.poll() is None and time.monotonic() < deadline:
        if moment == "signing":  # workers are started once the first chunk is ready to sign
            ready = _group_processes(process.pid) >= 3
        elif moment == "storing":  # the temporary output exists: the transaction comes next
            ready = any(out.parent.glob(f".{out.name}.*.partial"))
        else:  # "mid-transaction": the insert has spilled pages into the write-ahead log
            ready = _wal_size(world) >= wal_before + 2**16
        if ready:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.002)
    process.communicate()
    return False


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["signing", "storing", "mid-transaction"])
def test_kill_9_while_signing_10000_records_then_rerun(
    world: World, tmp_path: Path, moment: str
) -> None:
    count = 10_000
    source = tmp_path / "big.csv"
    source.write_text(csv_text(range(100_001, 100_001 + count)), encoding="utf-8")
    out = tmp_path / "big.jsonl"
    process = jdzhi_process(world.home.path, *_sign_args(world, source, out))
    killed = _kill_when(process, moment, out, world)
    assert killed, "the command finished before the chosen moment"
    stored_after_kill = len(_stored(world))
    # all or nothing: either the whole batch committed or none of it did
    assert stored_after_kill in (0, count)
    if out.exists():  # written only after the commit, and then whole
        assert stored_after_kill == count
        assert len(out.read_text(encoding="utf-8").splitlines()) == count
    _assert_sound(world)
    if out.exists():
        return
    rerun = ok(run(world.home.path, *_sign_args(world, source, out)))
    summary = json.loads(rerun.stdout)
    assert summary["signed"] == count and summary["already_signed"] == stored_after_kill
    stored = _stored(world)
    assert len(stored) == count
    assert not [serial for serial, n in Counter(s for s, _, _ in stored).items() if n > 1]
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["serial"] for line in lines] == [str(s) for s in range(100_001, 100_001 + count)]
    assert {line["label"] for line in lines} == {label for _, _, label in stored}
    assert not list(tmp_path.glob(".big.jsonl.*.partial"))
    _assert_sound(world)


@pytest.mark.slow
def test_kill_9_during_a_registry_import_then_rerun(world: World, tmp_path: Path) -> None:
    """An import is one transaction: after SIGKILL either every row is stored or none, the
    registry and its audit chain are sound, and the same import then completes (or, if the kill
    came after the commit, is refused as already registered, storing nothing twice)."""
    sample = tmp_path / "registry.csv"
    ok(run(world.home.path, "registry", "sample", "--count", "1500", "--seed", "3",
           "--as-of", "2026-03-01", "--out", str(sample)))
    wal = world.home.db_path.with_name(world.home.db_path.name + "-wal")
    before = wal.stat().st_size if wal.exists() else 0
    process = jdzhi_process(world.home.path, "registry", "import", str(sample))
    deadline = time.monotonic() + 300
    # kill once the transaction has spilled pages into the write-ahead log: mid-write
    while process.poll() is None and (wal.stat().st_size if wal.exists() else 0) < before + 2**16:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    assert process.poll() is None, "the import finished before the kill"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

    def enterprises() -> int:
        with sqlite3.connect(world.home.db_path) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM enterprises").fetchone()[0])

    after_kill = enterprises()
    assert after_kill in (1, 1501)
    _assert_sound(world)
    rerun = run(world.home.path, "registry", "import", str(sample))
    if after_kill == 1:
        assert rerun.exit_code == 0, rerun.output
    else:
        assert rerun.exit_code == ExitCode.CONFLICT
    assert enterprises() == 1501
    _assert_sound(world)


def _group_members(group: int) -> list[int]:
    members = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(stat_file.parent.name))
    return members


@pytest.mark.slow
def test_worker_processes_exit_when_the_command_alone_is_killed(
    world: World, tmp_path: Path
) -> None:
    """SIGKILL to the command only (not its process group): its signing workers, which would
    otherwise wait on their task queue forever, notice and exit; nothing is stored."""
    source = tmp_path / "big.csv"
    source.write_text(csv_text(range(100_001, 130_001)), encoding="utf-8")
    process = jdzhi_process(world.home.path, *_sign_args(world, source, tmp_path / "o.jsonl"),
                            JDZHI_WORKERS="2")
    deadline = time.monotonic() + 120
    while len(_group_members(process.pid)) < 3 and time.monotonic() < deadline:
        assert process.poll() is None, "the command ended before its workers started"
        time.sleep(0.01)
    assert len(_group_members(process.pid)) >= 3, "no worker processes appeared"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 60
    while _group_members(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _group_members(process.pid)
    if left:
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
    assert left == []
    assert _stored(world) == []
