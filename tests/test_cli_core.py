"""The CLI's edge: init, the error boundary and the exit codes README.md documents."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from conftest import Invoke

from jdzhi.errors import ExitCode
from jdzhi.home import Home
from jdzhi.registry import audit
from jdzhi.registry.db import in_memory, open_registry, transaction

README = Path(__file__).resolve().parents[1] / "README.md"


def test_init_creates_registry_and_is_safe_to_repeat(
    cli: Invoke, jdzhi_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JDZHI_PASSPHRASE", "a passphrase for the authority key")
    first = cli("init")
    assert first.exit_code == 0
    assert "Created a new registry" in first.stdout
    assert jdzhi_home.db_path.exists()
    second = cli("init")
    assert second.exit_code == 0
    assert "already exists; nothing was overwritten" in second.stdout


def test_home_option_beats_environment(
    cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JDZHI_PASSPHRASE", "a passphrase for the authority key")
    other = tmp_path / "other-home"
    result = cli("--home", str(other), "init", "--json")
    assert result.exit_code == 0
    assert (other / "registry.db").exists()
    assert '"created": true' in result.stdout


def test_commands_refuse_an_uninitialized_home(jdzhi_home: Home) -> None:
    import pytest

    from jdzhi.errors import NotInitialized

    with pytest.raises(NotInitialized, match="run `jdzhi init` first"):
        open_registry(jdzhi_home)


def test_a_file_that_is_not_a_database_is_a_clean_error(
    cli: Invoke, jdzhi_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JDZHI_PASSPHRASE", "a passphrase for the authority key")
    jdzhi_home.path.mkdir(parents=True)
    jdzhi_home.db_path.write_bytes(b"this is not sqlite" * 100)
    result = cli("init")
    assert result.exit_code == ExitCode.INTEGRITY
    assert result.stderr.startswith("error: the registry at")
    assert len(result.stderr.strip().splitlines()) == 1


def test_every_exit_code_is_documented_in_readme() -> None:
    text = README.read_text(encoding="utf-8")
    documented = {int(code) for code in re.findall(r"^\| `(\d+)` \|", text, flags=re.M)}
    assert documented == {int(code) for code in ExitCode}


def test_audit_chain_detects_edits_behind_the_tools_back() -> None:
    db = in_memory()
    db.execute("CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT)")
    with transaction(db):
        for key, name in ((1, "a"), (2, "b")):
            db.execute("INSERT INTO things VALUES (?, ?)", [key, name])
            audit.append(db, action="add", entity=f"things:{key}", before=None,
                         after={"id": key, "name": name})
    report = audit.verify(db)
    assert report.ok and report.entries == 2
    # the log refuses edits through SQL ...
    try:
        db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    except sqlite3.DatabaseError as error:
        assert "append-only" in str(error)
    else:
        raise AssertionError("audit_log accepted an UPDATE")
    # ... and a forged entry written after dropping the trigger breaks the chain
    db.execute("DROP TRIGGER audit_log_no_update")
    db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    report = audit.verify(db)
    assert not report.ok
    assert "audit entry 1 was altered after it was written" in report.problems


def test_a_reader_closing_the_pipe_early_is_not_an_error(tmp_path: Path) -> None:
    """`jdzhi registry list --json | head`: JSON goes through typer.echo, which drops EPIPE."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "JDZHI_HOME": str(tmp_path / "home"),
           "JDZHI_PASSPHRASE": "pipe test passphrase"}
    jdzhi = [sys.executable, "-m", "jdzhi"]
    subprocess.run([*jdzhi, "init"], env=env, check=True, capture_output=True)
    sample = tmp_path / "sample.csv"
    subprocess.run([*jdzhi, "registry", "sample", "--count", "220", "--out", str(sample)],
                   env=env, check=True, capture_output=True)
    subprocess.run([*jdzhi, "registry", "import", str(sample)], env=env, check=True,
                   capture_output=True)
    with subprocess.Popen([*jdzhi, "registry", "list", "--json"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.read(100)
        process.stdout.close()  # like `| head -c 100`
        stderr = process.stderr.read().decode()
    assert process.returncode == 0
    assert stderr == ""


def test_times_far_outside_any_license_are_a_clean_error(cli: Invoke, initialized: Home) -> None:
    for moment in ("9999-12-31T20:00:00Z", "0001-01-01T00:00:00+08:00"):
        result = cli("registry", "list", "--at", moment)
        assert result.exit_code == ExitCode.INVALID_INPUT, result.output
        assert result.stderr == (f"error: --at {moment!r} is outside the years 1970-2999\n")


def test_verify_of_a_name_too_long_for_any_file_is_a_clean_error(
        cli: Invoke, initialized: Home) -> None:
    result = cli("verify", "x" * 300)
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert result.stderr.startswith("error: 'xxxx")
    assert result.stderr.endswith("is neither a label URL nor an existing SIGNED.jsonl file\n")


def test_a_non_ascii_digit_is_no_enterprise_id(cli: Invoke, initialized: Home) -> None:
    result = cli("registry", "show", "²")
    assert result.exit_code == ExitCode.NOT_FOUND, result.output
    assert result.stderr.startswith("error: ")


@pytest.mark.parametrize(("command", "note"), [
    (("keys", "list"), "No keys yet: issue one with `jdzhi keys issue ENTERPRISE --out FILE`\n"),
    (("works", "list"), "No registered works yet: `jdzhi works register` or `jdzhi works "
                        "import`\n"),
    (("inspectors", "list"), "No inspectors yet: `jdzhi inspectors add NAME`.\n"),
    (("recall", "list"), "No recalls.\n"),
])
def test_an_empty_list_is_a_note_on_stderr_and_nothing_on_stdout(
        cli: Invoke, initialized: Home, command: tuple[str, ...], note: str) -> None:
    result = cli(*command)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", note)
    assert cli(*command, "--json").stdout == "[]\n"
