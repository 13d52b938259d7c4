"""The authority key at `jdzhi init`, and `jdzhi keys issue|list|revoke|rotate`."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from conftest import BOTH_BACKENDS, TEST_PASSPHRASE, Invoke
from db_support import count_rows, has_registry
from trace_support import LICENSE_NO, add_enterprise, issue_key, set_now

from jdzhi.errors import ExitCode, KeyUnusable
from jdzhi.home import Home
from jdzhi.trace.keys.keyfile import load_key

pytestmark = BOTH_BACKENDS


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_an_encrypted_0600_authority_key_once(
    cli: Invoke, jdzhi_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JDZHI_PASSPHRASE", TEST_PASSPHRASE)
    first = cli("init", "--json")
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert data["authority_key_created"] is True
    assert data["base_url"] == "HTTPS://TRACE.EXAMPLE.CN/V/"
    key_file = jdzhi_home.authority_key_path
    assert _mode(key_file) == 0o600
    pem = key_file.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert load_key(key_file, TEST_PASSPHRASE.encode()).public_key.hex()
    second = cli("init")
    assert second.exit_code == 0
    assert "exists" in second.stdout and "it was not changed" in second.stdout
    assert key_file.read_bytes() == pem
    assert count_rows(jdzhi_home, "authority_keys") == 1
    for output in (first.stdout + first.stderr, second.stdout + second.stderr):
        assert TEST_PASSPHRASE not in output and "PRIVATE KEY" not in output


def test_init_without_a_passphrase_creates_nothing(cli: Invoke, jdzhi_home: Home) -> None:
    result = cli("init")  # no JDZHI_PASSPHRASE and an empty stdin: the prompt gets nothing
    assert result.exit_code == ExitCode.KEY_ERROR
    assert "error: no passphrase given for the new authority key" in result.stderr
    assert not has_registry(jdzhi_home)


def test_init_refuses_a_bad_base_url_before_creating_anything(
    cli: Invoke, jdzhi_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JDZHI_PASSPHRASE", TEST_PASSPHRASE)
    result = cli("init", "--base-url", "https://lowercase.example.cn/v/")
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "must be an uppercase URL" in result.stderr
    assert not has_registry(jdzhi_home)
    assert cli("init", "--base-url", "HTTPS://JDZ.EXAMPLE.CN/V/").exit_code == 0
    other = cli("init", "--base-url", "HTTPS://OTHER.EXAMPLE.CN/V/")
    assert other.exit_code == ExitCode.INVALID_STATE
    assert "does not change it" in other.stderr


def test_issue_writes_a_0600_key_certified_for_the_license(
    cli: Invoke, initialized: Home, tmp_path: Path
) -> None:
    add_enterprise(cli)
    out = tmp_path / "workshop.key"
    result = cli("keys", "issue", LICENSE_NO, "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["key_id"] == 1 and data["role"] == "licensee" and data["status"] == "active"
    assert data["license_no"] == LICENSE_NO and data["key_file"] == str(out)
    assert _mode(out) == 0o600
    key = load_key(out, TEST_PASSPHRASE.encode())
    from jdzhi.trace.formats.records import base64url

    assert data["public_key"] == base64url(key.public_key)
    body = out.read_text().splitlines()[1]
    assert body not in result.output and TEST_PASSPHRASE not in result.output
    listed = json.loads(cli("keys", "list", "--json").stdout)
    assert [item["key_id"] for item in listed] == [1]
    assert "secret" not in repr(key) and "private" not in repr(key).lower()


def test_issue_refuses_to_overwrite_and_stores_nothing(
    cli: Invoke, initialized: Home, tmp_path: Path
) -> None:
    add_enterprise(cli)
    out = tmp_path / "taken.key"
    out.write_text("something precious")
    result = cli("keys", "issue", LICENSE_NO, "--out", str(out))
    assert result.exit_code == ExitCode.CONFLICT
    assert "never overwrites" in result.stderr
    assert out.read_text() == "something precious"
    assert count_rows(initialized, "trust_keys") == 0


def test_issue_with_a_wrong_authority_passphrase(
    cli: Invoke, initialized: Home, tmp_path: Path
) -> None:
    add_enterprise(cli)
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the passphrase\n")
    out = tmp_path / "workshop.key"
    result = cli("keys", "issue", LICENSE_NO, "--out", str(out), "--passphrase-file", str(wrong))
    assert result.exit_code == ExitCode.KEY_ERROR
    assert result.stderr.startswith("error: cannot unlock")
    assert "wrong passphrase" in result.stderr
    assert not out.exists()
    assert count_rows(initialized, "trust_keys") == 0


def test_issue_errors(cli: Invoke, initialized: Home, tmp_path: Path) -> None:
    missing = cli("keys", "issue", "JDZ-NOPE", "--out", str(tmp_path / "k.key"))
    assert missing.exit_code == ExitCode.NOT_FOUND
    no_folder = cli("keys", "issue", "1", "--out", str(tmp_path / "no" / "k.key"))
    assert no_folder.exit_code == ExitCode.INVALID_INPUT
    add_enterprise(cli)
    assert cli("registry", "revoke", LICENSE_NO, "--reason", "fraud").exit_code == 0
    revoked = cli("keys", "issue", LICENSE_NO, "--out", str(tmp_path / "k.key"))
    assert revoked.exit_code == ExitCode.INVALID_STATE
    assert "is revoked: no key can be issued" in revoked.stderr
    assert not (tmp_path / "k.key").exists()


def test_wrong_passphrase_on_a_key_file_is_a_key_error(tmp_path: Path, initialized: Home,
                                                       cli: Invoke) -> None:
    add_enterprise(cli)
    key = issue_key(cli, tmp_path)
    with pytest.raises(KeyUnusable, match="wrong passphrase"):
        load_key(key, b"guess")
    with pytest.raises(KeyUnusable, match="does not exist"):
        load_key(tmp_path / "none.key", b"x")
    garbage = tmp_path / "garbage.key"
    garbage.write_bytes(b"\x00\x01 not a key")
    with pytest.raises(KeyUnusable, match="not an encrypted PKCS#8"):
        load_key(garbage, b"x")


def test_revoke_with_a_past_effective_time_then_refuse_twice(
    cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_now(monkeypatch, "2026-03-01T10:00:00+08:00")
    add_enterprise(cli)
    issue_key(cli, tmp_path)
    set_now(monkeypatch, "2026-05-01T10:00:00+08:00")
    result = cli("keys", "revoke", "1", "--reason", "laptop stolen",
                 "--effective", "2026-04-01T08:00:00", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "revoked" and data["ended_at"] == "2026-04-01T00:00:00Z"
    again = cli("keys", "revoke", "1", "--reason", "again")
    assert again.exit_code == ExitCode.INVALID_STATE
    assert cli("keys", "revoke", "99", "--reason", "x").exit_code == ExitCode.NOT_FOUND
    assert cli("keys", "revoke", "1", "--reason", "  ").exit_code == ExitCode.INVALID_INPUT
    bad_time = cli("keys", "revoke", "1", "--reason", "x", "--effective", "yesterday")
    assert bad_time.exit_code == ExitCode.INVALID_INPUT
    audit = cli("registry", "audit")
    assert audit.exit_code == 0, audit.output


def test_rotate_supersedes_the_keys_in_use(
    cli: Invoke, initialized: Home, tmp_path: Path
) -> None:
    add_enterprise(cli)
    nothing = cli("keys", "rotate", LICENSE_NO, "--out", str(tmp_path / "new.key"))
    assert nothing.exit_code == ExitCode.INVALID_STATE
    issue_key(cli, tmp_path)
    result = cli("keys", "rotate", LICENSE_NO, "--out", str(tmp_path / "new.key"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["key_id"] == 2 and data["superseded"] == [1]
    listed = {item["key_id"]: item["status"] for item in
              json.loads(cli("keys", "list", "--json").stdout)}
    assert listed == {1: "superseded", 2: "active"}
    table = cli("keys", "list")
    assert "superseded" in table.stdout and "active" in table.stdout


def test_init_notices_a_missing_authority_key_file(cli: Invoke, initialized: Home) -> None:
    initialized.authority_key_path.rename(initialized.path / "moved.key")
    result = cli("init")
    assert result.exit_code == ExitCode.INVALID_STATE
    assert "is missing; restore the key file from its backup" in result.stderr


def test_an_existing_keyfile_is_refused_before_any_prompt(
    cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_enterprise(cli)
    taken = tmp_path / "taken.key"
    taken.write_text("keep")
    monkeypatch.delenv("JDZHI_PASSPHRASE")
    for args in (("keys", "issue", LICENSE_NO), ("keys", "rotate", LICENSE_NO),
                 ("lab", "add", "Lab")):
        result = cli(*args, "--out", str(taken))
        assert result.exit_code == ExitCode.CONFLICT, args
        assert "Passphrase" not in result.stderr
    assert taken.read_text() == "keep"
