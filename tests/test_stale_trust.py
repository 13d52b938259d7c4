"""Out-of-date trust gives no `genuine`: `jdzhi scan --trust` with a bundle past its expiry or
past `--max-age` says stale-trust, exit 1, and logs it (it used to say genuine)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Invoke
from label_support import label_of, scan_json, signed_batch

from jdzhi.errors import ExitCode
from jdzhi.home import Home


@pytest.fixture
def scanned(cli: Invoke, initialized: Home, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(a photo of a genuine label, a bundle issued 2026-03-12T02:00Z valid 7 days)."""
    _, entries = signed_batch(cli, tmp_path, monkeypatch, 1)
    monkeypatch.setenv("JDZHI_NOW", "2026-03-12T10:00:00+08:00")
    photo = tmp_path / "label.png"
    label_of(entries[0]).save(photo)
    bundle = tmp_path / "trust.cbor"
    assert cli("trust", "export", "--out", str(bundle), "--valid-days", "7").exit_code == 0
    return photo, bundle


def test_scan_with_a_fresh_bundle_is_genuine_until_max_age(
    cli: Invoke, scanned: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    photo, bundle = scanned
    monkeypatch.setenv("JDZHI_NOW", "2026-03-14T10:00:00+08:00")  # two days after issue
    code, found, _ = scan_json(cli, str(photo), "--trust", str(bundle))
    assert code == 0 and found[0]["verdict"] == "genuine"
    code, found, _ = scan_json(cli, str(photo), "--trust", str(bundle), "--max-age", "1")
    assert code == ExitCode.CHECK_FAILED and found[0]["verdict"] == "stale-trust"
    assert found[0]["reasons"][0] == ("cannot confirm: trust data expired on "
                                      "2026-03-13T02:00:00Z, fetch a fresh one")


def test_scan_with_an_expired_bundle_is_stale_trust_and_logged_so(
    cli: Invoke, scanned: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    photo, bundle = scanned
    monkeypatch.setenv("JDZHI_NOW", "2026-03-20T10:00:00+08:00")
    code, found, stderr = scan_json(cli, str(photo), "--trust", str(bundle))
    assert code == ExitCode.CHECK_FAILED and found[0]["verdict"] == "stale-trust"
    assert "the trust bundle expired on 2026-03-19" in stderr
    report = cli("scans", "report", "--json")
    assert report.exit_code == 0 and '"stale-trust": 1' in report.stdout
    text = cli("scan", str(photo), "--trust", str(bundle), "--no-log")
    assert text.exit_code == ExitCode.CHECK_FAILED and "STALE TRUST" in text.stdout
    # the registry itself is never out of date
    code, found, _ = scan_json(cli, str(photo), "--no-log")
    assert code == 0 and found[0]["verdict"] == "genuine"
