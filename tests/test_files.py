"""jdzhi.files: the one way jdzhi writes a file: whole or not at all, never over a file it must
not replace, with its final mode from the first byte."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from jdzhi.errors import Conflict, InvalidInput
from jdzhi.files import NewFile, partial_path, replace_atomically, write_new


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _dead_pid() -> int:
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                             capture_output=True, text=True, check=True)
    return int(process.stdout)


def test_write_new_refuses_an_existing_file_and_keeps_it(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    write_new(target, b"first")
    assert target.read_bytes() == b"first"
    with pytest.raises(Conflict, match="jdzhi never overwrites"):
        write_new(target, b"second")
    with pytest.raises(Conflict, match="custom words"):
        write_new(target, b"second", exists="custom words")
    assert target.read_bytes() == b"first"
    assert list(tmp_path.iterdir()) == [target]


def test_a_temporary_file_left_under_this_process_number_is_stale(tmp_path: Path) -> None:
    target = tmp_path / "trust.cbor"
    partial_path(target).write_bytes(b"left by a dead process that had our number")
    write_new(target, b"bundle", durable=False)
    assert target.read_bytes() == b"bundle" and list(tmp_path.iterdir()) == [target]


def test_a_secret_is_private_from_its_first_byte(tmp_path: Path) -> None:
    target = tmp_path / "key.pem"
    old_umask = os.umask(0)  # the widest umask: only the mode given protects the file
    try:
        with NewFile(target, mode=0o600) as new:
            assert _mode(new.temporary) == 0o600 and new.temporary.read_bytes() == b""
            new.write(b"secret")
            assert _mode(new.temporary) == 0o600 and not target.exists()
            new.publish()
    finally:
        os.umask(old_umask)
    assert _mode(target) == 0o600 and target.read_bytes() == b"secret"
    assert list(tmp_path.iterdir()) == [target]


def test_an_unpublished_file_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError), NewFile(target) as new:
        new.write(b"half a file")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_appears_meanwhile_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    with NewFile(target) as new:
        new.write(b"mine")
        target.write_bytes(b"theirs")
        with pytest.raises(Conflict):
            new.publish()
    assert target.read_bytes() == b"theirs"
    assert list(tmp_path.iterdir()) == [target]


def test_a_writer_may_write_the_temporary_file_by_name(tmp_path: Path) -> None:
    target = tmp_path / "sheet.pdf"
    with NewFile(target) as new:
        new.temporary.write_bytes(b"%PDF by a library")
        new.publish()
    assert target.read_bytes() == b"%PDF by a library"


def test_replace_atomically_replaces_and_cleans_up_after_dead_writers(tmp_path: Path) -> None:
    target = tmp_path / "export.csv"
    target.write_bytes(b"old")
    stale = partial_path(target, _dead_pid())
    stale.write_bytes(b"left by a crash")
    alive = partial_path(target, os.getppid())
    alive.write_bytes(b"another process is writing")
    replace_atomically(target, b"new")
    assert target.read_bytes() == b"new" and _mode(target) & 0o600 == 0o600
    assert sorted(tmp_path.iterdir()) == sorted([target, alive])


def test_an_unwritable_folder_is_a_clean_error(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "file"
    with pytest.raises(InvalidInput, match="cannot write in"):
        replace_atomically(missing, b"x")
    with pytest.raises(InvalidInput, match="cannot write"):
        write_new(missing, b"x")
