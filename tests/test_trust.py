"""`jdzhi trust export` and offline verification with `--trust`: no registry needed, altered or
foreign bundles refused, stale bundles warned about."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import TEST_PASSPHRASE, Invoke
from trace_support import LICENSE_NO, add_enterprise, issue_key, records, sign

from jdzhi.errors import ExitCode, IntegrityError
from jdzhi.home import Home
from jdzhi.trace.trust.bundle import decode_bundle


@pytest.fixture
def exported(cli: Invoke, initialized: Home, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, str]:
    """(SIGNED.jsonl with one later-revoked-license record, bundle, authority public key)."""
    monkeypatch.setenv("JDZHI_NOW", "2026-03-10T09:00:00+08:00")
    add_enterprise(cli)
    key = issue_key(cli, tmp_path)
    signed, _ = sign(cli, tmp_path, key, records(2))
    monkeypatch.setenv("JDZHI_NOW", "2026-04-10T09:00:00+08:00")
    assert cli("registry", "revoke", LICENSE_NO, "--reason", "closed").exit_code == 0
    bundle = tmp_path / "trust.cbor"
    result = cli("trust", "export", "--out", str(bundle), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["keys"] == 1 and data["enterprises"] == 1
    assert data["expires_at"] == "2026-05-10T01:00:00Z"
    return signed, bundle, data["authority_public_key"]


def test_offline_verification_matches_the_registry(
    cli: Invoke, tmp_path: Path, exported: tuple[Path, Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signed, bundle, authority = exported
    online = cli("verify", str(signed), "--json")
    monkeypatch.setenv("JDZHI_HOME", str(tmp_path / "no-home-here"))
    offline = cli("verify", str(signed), "--trust", str(bundle), "--authority", authority,
                  "--json")
    assert offline.exit_code == online.exit_code == 0
    assert json.loads(offline.stdout) == json.loads(online.stdout)
    assert any("has since been revoked" in reason
               for reason in json.loads(offline.stdout)[0]["reasons"])
    # an offline verifier needs no registry: its home holds only what it remembers of bundles
    assert [p.name for p in (tmp_path / "no-home-here").iterdir()] == ["trust-seen.json"]
    label = json.loads(signed.read_text().splitlines()[0])["label"]
    single = cli("verify", label, "--trust", str(bundle), "--authority", authority, "--json")
    assert json.loads(single.stdout)[0]["verdict"] == "genuine"


def test_the_home_pins_the_authority_key(cli: Invoke, exported: tuple[Path, Path, str]) -> None:
    signed, bundle, _ = exported
    assert cli("verify", str(signed), "--trust", str(bundle)).exit_code == 0


def test_without_an_authority_key_a_bundle_is_refused(
    cli: Invoke, tmp_path: Path, exported: tuple[Path, Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signed, bundle, _ = exported
    monkeypatch.setenv("JDZHI_HOME", str(tmp_path / "elsewhere"))
    result = cli("verify", str(signed), "--trust", str(bundle))
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "pass --authority" in result.stderr
    bad = cli("verify", str(signed), "--trust", str(bundle), "--authority", "xyz")
    assert bad.exit_code == ExitCode.INVALID_INPUT


def test_a_bundle_of_another_authority_is_refused(
    cli: Invoke, tmp_path: Path, exported: tuple[Path, Path, str],
) -> None:
    signed, bundle, _ = exported
    other = tmp_path / "other-home"
    assert cli("--home", str(other), "init").exit_code == 0
    foreign = tmp_path / "foreign.cbor"
    assert cli("--home", str(other), "trust", "export", "--out", str(foreign)).exit_code == 0
    result = cli("verify", str(signed), "--trust", str(foreign))
    assert result.exit_code == ExitCode.INTEGRITY
    assert "not signed by the authority key" in result.stderr
    other_key = json.loads(cli("--home", str(other), "init", "--json").stdout)
    pinned_other = cli("verify", str(signed), "--trust", str(bundle), "--authority",
                       other_key["authority_public_key"])
    assert pinned_other.exit_code == ExitCode.INTEGRITY


def test_every_single_byte_change_of_a_bundle_is_refused(
    exported: tuple[Path, Path, str],
) -> None:
    _, bundle, authority = exported
    from jdzhi.trace.keys.keyfile import read_public_key

    pinned = read_public_key(authority)
    data = bundle.read_bytes()
    now = datetime(2026, 4, 11, tzinfo=UTC)
    assert decode_bundle(data, pinned, now=now).keys
    for index in range(len(data)):
        for flip in (0x01, 0x80):
            changed = bytearray(data)
            changed[index] ^= flip
            with pytest.raises(IntegrityError):
                decode_bundle(bytes(changed), pinned, now=now)
    for broken in (b"", data[:-1], data + b"\x00", b"not a bundle at all"):
        with pytest.raises(IntegrityError):
            decode_bundle(broken, pinned, now=now)


def test_a_stale_bundle_cannot_confirm_a_good_signature(
    cli: Invoke, exported: tuple[Path, Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past its expiry a bundle may miss a revocation: a good signature is stale-trust, exit 1
    (it used to be genuine, exit 0, with only a warning)."""
    signed, bundle, authority = exported
    monkeypatch.setenv("JDZHI_NOW", "2026-06-01T00:00:00+08:00")
    result = cli("verify", str(signed), "--trust", str(bundle), "--authority", authority,
                 "--json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert "warning: the trust bundle expired on 2026-05-10" in result.stderr
    first = json.loads(result.stdout)[0]
    assert first["verdict"] == "stale-trust"
    assert first["reasons"][0] == ("cannot confirm: trust data expired on 2026-05-10T01:00:00Z, "
                                   "fetch a fresh one")
    assert first["enterprise"] is not None and "valid signature" in first["reasons"][1]
    text = cli("verify", str(signed), "--trust", str(bundle), "--authority", authority)
    assert text.exit_code == ExitCode.CHECK_FAILED and "STALE-TRUST" in text.stdout


def test_max_age_makes_a_bundle_stale_sooner_never_later(
    cli: Invoke, exported: tuple[Path, Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    signed, bundle, authority = exported  # issued 2026-04-10T01:00Z, expires 30 days later
    monkeypatch.setenv("JDZHI_NOW", "2026-04-20T09:00:00+08:00")

    def verdicts(*options: str) -> tuple[int, set[str]]:
        result = cli("verify", str(signed), "--trust", str(bundle), "--authority", authority,
                     "--json", *options)
        return result.exit_code, {entry["verdict"] for entry in json.loads(result.stdout)}

    assert verdicts() == (0, {"genuine"})
    assert verdicts("--max-age", "10") == (0, {"genuine"})  # until 2026-04-20T01:00Z
    assert verdicts("--max-age", "9") == (ExitCode.CHECK_FAILED, {"stale-trust"})
    monkeypatch.setenv("JDZHI_NOW", "2026-05-11T09:00:00+08:00")
    assert verdicts("--max-age", "365") == (ExitCode.CHECK_FAILED, {"stale-trust"})
    assert cli("verify", str(signed), "--trust", str(bundle), "--max-age", "-1").exit_code == (
        ExitCode.USAGE)


def test_export_refuses_overwrites_and_wrong_passphrases(
    cli: Invoke, tmp_path: Path, exported: tuple[Path, Path, str]
) -> None:
    _, bundle, _ = exported
    before = bundle.read_bytes()
    again = cli("trust", "export", "--out", str(bundle))
    assert again.exit_code == ExitCode.CONFLICT and bundle.read_bytes() == before
    wrong = tmp_path / "wrong.txt"
    wrong.write_text(TEST_PASSPHRASE + "!")
    result = cli("trust", "export", "--out", str(tmp_path / "new.cbor"), "--passphrase-file",
                 str(wrong))
    assert result.exit_code == ExitCode.KEY_ERROR
    assert not (tmp_path / "new.cbor").exists()
    days = cli("trust", "export", "--out", str(tmp_path / "d.cbor"), "--valid-days", "0")
    assert days.exit_code == ExitCode.INVALID_INPUT


def test_a_record_is_not_a_bundle(cli: Invoke, tmp_path: Path,
                                  exported: tuple[Path, Path, str]) -> None:
    signed, _, authority = exported
    from jdzhi.trace.formats.records import base64url_decode

    record = base64url_decode(json.loads(signed.read_text().splitlines()[0])["record"])
    fake = tmp_path / "record.cbor"
    fake.write_bytes(record)
    result = cli("verify", str(signed), "--trust", str(fake), "--authority", authority)
    assert result.exit_code == ExitCode.INTEGRITY
    missing = cli("verify", str(signed), "--trust", str(tmp_path / "none.cbor"), "--authority",
                  authority)
    assert missing.exit_code == ExitCode.INVALID_INPUT


def test_bundle_round_trip_keeps_every_fact(cli: Invoke, initialized: Home,
                                            exported: tuple[Path, Path, str]) -> None:
    _, bundle, authority = exported
    from jdzhi.registry.db import open_registry
    from jdzhi.trace.keys.keyfile import read_public_key
    from jdzhi.trace.trust.from_registry import trust_from_registry

    db = open_registry(initialized)
    try:
        local = trust_from_registry(db)
    finally:
        db.close()
    remote = decode_bundle(bundle.read_bytes(), read_public_key(authority),
                           now=datetime(2026, 4, 11, tzinfo=UTC))
    for name in ("keys", "enterprises", "licenses", "categories", "labs", "bases",
                 "authority_public_key"):
        assert getattr(remote, name) == getattr(local, name), name


def test_license_status_rules_match_the_registry(
    cli: Invoke, initialized: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The verifier's license status (from a trust snapshot) is the registry's, moment by moment,
    through suspension, reinstatement, renewal and revocation recorded late."""
    from datetime import timedelta

    from jdzhi.registry.db import open_registry
    from jdzhi.registry.licenses import effective_status
    from jdzhi.timeutil import unix_time
    from jdzhi.trace.trust.from_registry import trust_from_registry

    monkeypatch.setenv("JDZHI_NOW", "2026-01-05T09:00:00+08:00")
    add_enterprise(cli, valid_from="2026-01-01", valid_to="2026-06-30")
    steps = [
        ("2026-02-01T10:00:00+08:00", ("suspend", "--reason", "audit",
                                       "--effective", "2026-01-20T00:00:00")),
        ("2026-02-10T10:00:00+08:00", ("reinstate", "--reason", "fixed")),
        ("2026-07-10T10:00:00+08:00", ("renew", "--valid-to", "2026-09-30", "--reason", "late")),
        ("2026-11-01T10:00:00+08:00", ("revoke", "--reason", "fraud",
                                       "--effective", "2026-08-15T12:00:00")),
    ]
    for when, (action, *rest) in steps:
        monkeypatch.setenv("JDZHI_NOW", when)
        result = cli("registry", action, LICENSE_NO, *rest)
        assert result.exit_code == 0, result.output
    db = open_registry(initialized)
    try:
        lic = trust_from_registry(db).licenses[1]
        moment = datetime(2025, 12, 25, tzinfo=UTC)
        checked = set()
        while moment < datetime(2026, 12, 1, tzinfo=UTC):
            expected = effective_status(db, 1, moment)
            assert lic.status_at(unix_time(moment))[0] == expected, moment
            checked.add(expected)
            moment += timedelta(hours=13)
    finally:
        db.close()
    assert checked == {"pending", "active", "suspended", "revoked", "expired"}


def test_authority_without_a_bundle_is_a_usage_mistake(cli: Invoke, initialized: Home) -> None:
    result = cli("verify", "HTTPS://TRACE.EXAMPLE.CN/V/X", "--authority", "A" * 43)
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "give --trust FILE too" in result.stderr
