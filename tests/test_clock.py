"""JDZHI_NOW moves the clock only in homes made with it (the test suite's, jdzhi demo's)."""

from __future__ import annotations

import sqlite3

import pytest
from conftest import TEST_PASSPHRASE, Invoke

from jdzhi.errors import ExitCode
from jdzhi.home import Home


def _init_on_the_real_clock(cli: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JDZHI_NOW", raising=False)
    monkeypatch.setenv("JDZHI_PASSPHRASE", TEST_PASSPHRASE)
    assert cli("init").exit_code == 0


@pytest.mark.parametrize("command", [("registry", "list"), ("keys", "list"),
                                     ("registry", "audit"), ("trust", "export", "--out", "x")])
def test_a_real_clock_home_refuses_jdzhi_now(
    cli: Invoke, jdzhi_home: Home, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    _init_on_the_real_clock(cli, monkeypatch)
    monkeypatch.setenv("JDZHI_NOW", "2025-01-01T00:00:00+08:00")
    result = cli(*command)
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.count("\n") == 1 and "JDZHI_NOW is set" in result.stderr


def test_a_home_made_with_jdzhi_now_honours_it(
    cli: Invoke, jdzhi_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JDZHI_NOW", "2026-01-01T00:00:00+08:00")
    monkeypatch.setenv("JDZHI_PASSPHRASE", TEST_PASSPHRASE)
    assert cli("init").exit_code == 0
    monkeypatch.setenv("JDZHI_NOW", "2026-02-01T00:00:00+08:00")
    assert cli("registry", "list").exit_code == 0


def test_initializing_again_with_jdzhi_now_does_not_make_a_real_home_simulated(
    cli: Invoke, jdzhi_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    _init_on_the_real_clock(cli, monkeypatch)
    monkeypatch.setenv("JDZHI_NOW", "2026-02-01T00:00:00+08:00")
    assert cli("init").exit_code == ExitCode.USAGE
    monkeypatch.delenv("JDZHI_NOW")
    with sqlite3.connect(jdzhi_home.db_path) as conn:
        assert conn.execute("SELECT kind FROM home_clock").fetchall() == [("real",)]


def test_a_home_made_before_the_rule_runs_on_the_real_clock(
    cli: Invoke, jdzhi_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    _init_on_the_real_clock(cli, monkeypatch)
    with sqlite3.connect(jdzhi_home.db_path) as conn:  # as a home of an older jdzhi
        conn.execute("DROP TABLE home_clock")
        conn.execute("DROP TABLE alembic_version")
    assert cli("registry", "list").exit_code == 0  # migrates, real clock
    monkeypatch.setenv("JDZHI_NOW", "2026-02-01T00:00:00+08:00")
    assert cli("registry", "list").exit_code == ExitCode.USAGE
