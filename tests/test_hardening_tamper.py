"""The tamper matrix: every single-byte change of a label payload, of a full record and of a trust
bundle (each byte position replaced by each of the 255 other values) is rejected; none verifies as
genuine, and a changed bundle never loads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import BOTH_BACKENDS
from hardening_support import World, build_world, bundle_world_fixtures, run

from jdzhi.errors import ExitCode, IntegrityError
from jdzhi.trace.formats.base32 import base32_decode, base32_encode
from jdzhi.trace.formats.labels import DEFAULT_BASE_URL, LABEL_PAYLOAD_LENGTH
from jdzhi.trace.formats.records import base64url_decode
from jdzhi.trace.trust.bundle import decode_bundle
from jdzhi.trace.trust.model import Trust
from jdzhi.trace.verification.result import Verdict
from jdzhi.trace.verification.verifier import verify_label_text, verify_record

NOW = datetime(2026, 3, 11, tzinfo=UTC)


world, pinned, trust = bundle_world_fixtures("tamper-world", NOW)


def _every_single_byte_change(data: bytes) -> list[tuple[int, bytes]]:
    changes = []
    for index in range(len(data)):
        for value in range(256):
            if value != data[index]:
                changes.append((index, data[:index] + bytes([value]) + data[index + 1:]))
    return changes


def test_every_single_byte_change_of_a_label_payload(world: World, trust: Trust) -> None:
    label = world.lines()[0]["label"]
    assert label.startswith(DEFAULT_BASE_URL)
    payload = base32_decode(label[len(DEFAULT_BASE_URL):])
    assert len(payload) == LABEL_PAYLOAD_LENGTH
    assert verify_label_text(label, trust, NOW).verdict is Verdict.GENUINE
    changes = _every_single_byte_change(payload)
    assert len(changes) == LABEL_PAYLOAD_LENGTH * 255
    verdicts: dict[Verdict, int] = {}
    for index, changed in changes:
        verdict = verify_label_text(DEFAULT_BASE_URL + base32_encode(changed), trust, NOW).verdict
        assert verdict is not Verdict.GENUINE, (index, changed.hex())
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
    # a changed signature or signed field is tampered; a changed key id names an unknown key;
    # a changed version byte or an out-of-range field is malformed
    assert set(verdicts) <= {Verdict.TAMPERED, Verdict.UNKNOWN_KEY, Verdict.MALFORMED}
    assert verdicts[Verdict.TAMPERED] > 64 * 255


@pytest.mark.slow
def test_every_single_byte_change_of_a_full_record(world: World, trust: Trust) -> None:
    record = base64url_decode(world.lines()[0]["record"])
    assert verify_record(record, trust, NOW).verdict is Verdict.GENUINE
    for index, changed in _every_single_byte_change(record):
        assert verify_record(changed, trust, NOW).verdict is not Verdict.GENUINE, index


def _unrefused_bundle_changes(bundle: bytes, pinned: bytes) -> list[tuple[int, int, str]]:
    """Every single-byte change that decode_bundle does not refuse cleanly (all are tried, so
    that a failure lists every offending change)."""
    wrong = []
    for index in range(len(bundle)):
        for value in range(256):
            if value == bundle[index]:
                continue
            changed = bundle[:index] + bytes([value]) + bundle[index + 1:]
            try:
                decode_bundle(changed, pinned, now=NOW)
            except IntegrityError:
                continue
            except Exception as error:
                wrong.append((index, value, repr(error)))
            else:
                wrong.append((index, value, "accepted"))
    return wrong


@pytest.mark.slow
def test_every_single_byte_change_of_a_trust_bundle(world: World, pinned: bytes) -> None:
    """About 280,000 altered bundles (one CPU, about two minutes): each refused cleanly."""
    bundle = world.bundle.read_bytes()
    assert decode_bundle(bundle, pinned, now=NOW).keys
    assert _unrefused_bundle_changes(bundle, pinned) == []


# the byte matrices above check formats, the same whatever keeps the registry (they run once);
# `verify` with the home reads the registry, so this test runs on both backends, on its own world
@BOTH_BACKENDS
def test_the_cli_reports_a_changed_label_and_a_changed_bundle(tmp_path: Path) -> None:
    world = build_world(tmp_path / "world", count=1)
    label = world.lines()[0]["label"]
    payload = bytearray(base32_decode(label[len(DEFAULT_BASE_URL):]))
    payload[7] ^= 0x01  # the serial's last byte
    forged = DEFAULT_BASE_URL + base32_encode(bytes(payload))
    result = run(world.home.path, "verify", forged, "--json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert json.loads(result.stdout)[0]["verdict"] == "tampered"
    bundle = bytearray(world.bundle.read_bytes())
    bundle[len(bundle) // 2] ^= 0x20
    changed = tmp_path / "changed.cbor"
    changed.write_bytes(bytes(bundle))
    refused = run(world.home.path, "verify", label, "--trust", str(changed), "--authority",
                  world.authority_public_key)
    assert refused.exit_code == ExitCode.INTEGRITY
    assert refused.stderr.startswith("error: the trust bundle")
    assert len(refused.stderr.strip().splitlines()) == 1
