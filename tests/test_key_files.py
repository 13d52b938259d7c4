"""Key files (issue 14, item 4): a slow KDF, long passphrases, a workshop's own passphrase."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest
from conftest import TEST_PASSPHRASE, Invoke
from trace_support import LICENSE_NO, add_enterprise

from jdzhi.errors import ExitCode, KeyUnusable
from jdzhi.home import Home
from jdzhi.trace.keys.keyfile import generate, load_key, write_key

PBKDF2_OID = bytes.fromhex("2a864886f70d01050c")  # 1.2.840.113549.1.5.12


def _der_items(der: bytes) -> list[tuple[int, bytes]]:
    """Every (tag, content) in a DER blob, depth first: enough to read PBKDF2's parameters."""
    found: list[tuple[int, bytes]] = []
    position = 0
    while position < len(der):
        tag, size = der[position], der[position + 1]
        position += 2
        if size & 0x80:
            count = size & 0x7F
            size = int.from_bytes(der[position:position + count], "big")
            position += count
        content = der[position:position + size]
        position += size
        found.append((tag, content))
        if tag & 0x20:  # constructed
            found += _der_items(content)
    return found


def _pbkdf2_iterations(path: Path) -> int:
    body = b"".join(line for line in path.read_bytes().splitlines() if b"-----" not in line)
    items = _der_items(base64.b64decode(body))
    at = items.index((0x06, PBKDF2_OID))
    # PBKDF2-params: SEQUENCE { salt OCTET STRING, iterationCount INTEGER, ... }
    assert items[at + 1][0] == 0x30 and items[at + 2][0] == 0x04 and items[at + 3][0] == 0x02
    return int.from_bytes(items[at + 3][1], "big")


def _keys(home: Home) -> int:
    with sqlite3.connect(home.db_path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM trust_keys").fetchone()[0])


def test_new_key_files_use_600000_pbkdf2_iterations(
        cli: Invoke, initialized: Home, tmp_path: Path) -> None:
    add_enterprise(cli)
    out = tmp_path / "workshop.key"
    assert cli("keys", "issue", LICENSE_NO, "--out", str(out)).exit_code == 0
    assert _pbkdf2_iterations(initialized.authority_key_path) == 600_000
    assert _pbkdf2_iterations(out) == 600_000
    assert load_key(out, TEST_PASSPHRASE.encode()).public_key


def test_key_files_of_older_jdzhi_still_load(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    key = generate()
    old = tmp_path / "old.key"
    # what jdzhi wrote before: cryptography's own PKCS#8 encryption, 2,048 iterations
    old.write_bytes(key._private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"short")))
    assert _pbkdf2_iterations(old) == 2048
    assert load_key(old, b"short").public_key == key.public_key
    with pytest.raises(KeyUnusable, match="wrong passphrase"):
        load_key(old, b"shorter")


def test_a_passphrase_under_12_characters_makes_no_key(
        cli: Invoke, jdzhi_home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JDZHI_PASSPHRASE", "eleven char")
    result = cli("init")
    assert result.exit_code == ExitCode.KEY_ERROR
    assert result.stderr == ("error: the passphrase for the new authority key is too short: a "
                             "new key needs at least 12 characters\n")
    assert not jdzhi_home.authority_key_path.exists()
    with pytest.raises(KeyUnusable, match="too short"):
        write_key(tmp_path / "k.key", generate(), "一二三四五六七八九十〇".encode())
    assert not (tmp_path / "k.key").exists()
    write_key(tmp_path / "k.key", generate(), "一二三四五六七八九十〇一".encode())


def test_a_short_key_passphrase_is_refused_before_anything_is_stored(
        cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_enterprise(cli)
    monkeypatch.setenv("JDZHI_KEY_PASSPHRASE", "x")
    out = tmp_path / "workshop.key"
    result = cli("keys", "issue", LICENSE_NO, "--out", str(out))
    assert result.exit_code == ExitCode.KEY_ERROR
    assert "too short" in result.stderr
    assert not out.exists() and _keys(initialized) == 0


@pytest.mark.parametrize("command", [("keys", "issue", LICENSE_NO), ("lab", "add", "Lab")])
def test_a_key_handed_out_never_gets_the_authoritys_passphrase(
        cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        command: tuple[str, ...]) -> None:
    add_enterprise(cli)
    monkeypatch.delenv("JDZHI_KEY_PASSPHRASE")  # only the authority's JDZHI_PASSPHRASE is set
    out = tmp_path / "handed-out.key"
    result = cli(*command, "--out", str(out))
    assert result.exit_code == ExitCode.KEY_ERROR
    assert result.stderr == (
        "error: no passphrase for the new key (handed-out.key): give --key-passphrase-file or "
        "set JDZHI_KEY_PASSPHRASE (a key handed out never gets the authority's "
        "JDZHI_PASSPHRASE)\n")
    assert not out.exists() and _keys(initialized) == 0

    own = tmp_path / "own.txt"
    own.write_text("the workshop's own passphrase\n", encoding="utf-8")
    assert cli(*command, "--out", str(out), "--key-passphrase-file", str(own)).exit_code == 0
    assert load_key(out, b"the workshop's own passphrase").public_key
    with pytest.raises(KeyUnusable, match="wrong passphrase"):
        load_key(out, TEST_PASSPHRASE.encode())

    monkeypatch.setenv("JDZHI_KEY_PASSPHRASE", "set for a script, 2026")
    scripted = tmp_path / "scripted.key"
    if command[0] == "lab":
        command = ("lab", "add", "Another lab")
    assert cli(*command, "--out", str(scripted)).exit_code == 0
    assert load_key(scripted, b"set for a script, 2026").public_key
