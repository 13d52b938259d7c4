"""A registry in a PostgreSQL database (``--db URL`` / ``JDZHI_DATABASE_URL``): `jdzhi init`
makes it, key files stay in the home folder, and a URL that cannot be used is one clear line with
its exit code, never a traceback or the password."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TEST_PASSPHRASE, Invoke
from db_support import raw_database

from jdzhi.errors import ExitCode
from jdzhi.home import Home
from jdzhi.registry.db import integrity_check, open_registry

PASSWORD = "s3cret-pw"


@pytest.fixture
def passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JDZHI_PASSPHRASE", TEST_PASSPHRASE)


def _error_line(result: object, code: ExitCode) -> str:
    assert result.exit_code == code, result.output  # type: ignore[attr-defined]
    lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in result.output  # type: ignore[attr-defined]
    assert PASSWORD not in result.output  # type: ignore[attr-defined]
    return str(lines[0])


def test_init_with_db_makes_the_registry_there_and_the_keys_in_the_home(
        cli: Invoke, jdzhi_home: Home, postgres_url: str, passphrase: None,
        tmp_path: Path) -> None:
    made = cli("--db", postgres_url, "init", "--json")
    assert made.exit_code == 0, made.output
    first = json.loads(made.stdout)
    on_sqlite = json.loads(cli("--home", str(tmp_path / "sqlite-home"), "init", "--json").stdout)
    assert first["created"] is True
    assert first["applied_migrations"] == on_sqlite["applied_migrations"]
    assert first["path"].startswith("postgresql://") and first["path"] != str(jdzhi_home.db_path)
    assert jdzhi_home.authority_key_path.is_file() and not jdzhi_home.db_path.exists()
    again = json.loads(cli("--db", postgres_url, "init", "--json").stdout)
    assert (again["created"], again["applied_migrations"]) == (False, [])
    assert again["authority_kid"] == first["authority_kid"]
    # the home's own SQLite file knows nothing of it; the URL (option or variable) does
    assert cli("registry", "list").exit_code == ExitCode.NOT_INITIALIZED
    added = cli("--db", postgres_url, "registry", "categories", "add", "kehua", "--zh", "刻花",
                "--en", "carved")
    assert added.exit_code == 0, added.output
    with raw_database(Home(jdzhi_home.path, postgres_url)) as db:
        assert db.dialect == "postgresql"
        assert db.execute("SELECT name_en FROM categories WHERE code = 'kehua'").fetchone() == (
            "carved",)
    audited = cli("--db", postgres_url, "registry", "audit")
    assert audited.exit_code == 0, audited.output


def test_an_empty_database_is_not_a_registry_until_init(cli: Invoke, postgres_url: str) -> None:
    line = _error_line(cli("--db", postgres_url, "registry", "list"), ExitCode.NOT_INITIALIZED)
    assert "run `jdzhi init` first" in line


@pytest.mark.parametrize(("url", "code", "message"), [
    ("not a url", ExitCode.INVALID_INPUT, "the database URL is malformed"),
    (f"postgresql://u:{PASSWORD}@host:port/x", ExitCode.INVALID_INPUT, "malformed"),
    (f"mysql://u:{PASSWORD}@localhost/x", ExitCode.INVALID_INPUT, "not mysql"),
    (f"postgresql://u:{PASSWORD}@localhost", ExitCode.INVALID_INPUT, "names no database"),
    # nothing listens on port 1
    (f"postgresql://u:{PASSWORD}@127.0.0.1:1/x", ExitCode.UNREACHABLE,
     "cannot connect to the registry database at postgresql://u:***@127.0.0.1:1/x"),
])
def test_a_url_that_cannot_be_used_is_one_line(cli: Invoke, url: str, code: ExitCode,
                                               message: str, passphrase: None) -> None:
    for args in (("--db", url, "registry", "list"), ("--db", url, "init")):
        assert message in _error_line(cli(*args), code)


def test_wrong_credentials_or_database_are_unavailable(
        cli: Invoke, postgres_url: str, jdzhi_home: Home, passphrase: None) -> None:
    import sqlalchemy

    missing = sqlalchemy.make_url(postgres_url).set(database="no_such_database",
                                                     password=PASSWORD)
    line = _error_line(cli("--db", missing.render_as_string(hide_password=False), "init"),
                       ExitCode.UNREACHABLE)
    assert 'database "no_such_database" does not exist' in line
    assert not jdzhi_home.path.exists()  # nothing made in the home either


def test_the_clock_rule_holds_on_postgresql(cli: Invoke, postgres_url: str, jdzhi_home: Home,
                                            passphrase: None,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("--db", postgres_url, "init").exit_code == 0  # on the real clock
    monkeypatch.setenv("JDZHI_NOW", "2026-03-01T00:00:00+08:00")
    line = _error_line(cli("--db", postgres_url, "registry", "list"), ExitCode.USAGE)
    assert "JDZHI_NOW is set, but this home runs on the real clock" in line


def test_the_integrity_check_finds_a_disabled_append_only_trigger(
        cli: Invoke, postgres_url: str, jdzhi_home: Home, passphrase: None) -> None:
    assert cli("--db", postgres_url, "init").exit_code == 0
    home = Home(jdzhi_home.path, postgres_url)
    with raw_database(home) as db:
        db.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
    db = open_registry(home)
    try:
        assert integrity_check(db) == ["trigger audit_log_no_update is disabled"]
    finally:
        db.close()
    audited = cli("--db", postgres_url, "registry", "audit")
    assert audited.exit_code == ExitCode.CHECK_FAILED
    assert "trigger audit_log_no_update is disabled" in audited.stdout
