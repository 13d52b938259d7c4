"""Hostile input for every decoder of outside data: label texts and payloads, full records,
SIGNED.jsonl lines, trust bundles (random, damaged, and validly signed but malformed), key files
and public keys. The only acceptable outcomes are a verdict or a clean ``JdzhiError``; anything else
(an exception of another type) fails the test. The example counts add up to tens of thousands
per run; each test stays within a few seconds on one core."""

from __future__ import annotations

import base64
import json
import random
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cbor2
import pytest
from hardening_support import PASSPHRASE, World, bundle_world_fixtures, cases
from hypothesis import assume, given
from hypothesis import strategies as st

from jdzhi.errors import IntegrityError, InvalidInput, JdzhiError, KeyUnusable
from jdzhi.trace.formats.base32 import base32_encode
from jdzhi.trace.formats.common import CONTENT_TYPES, LabelError, authority_kid, external_aad
from jdzhi.trace.formats.labels import DEFAULT_BASE_URL, LABEL_PAYLOAD_LENGTH, decode_label_payload
from jdzhi.trace.trust.bundle import decode_bundle
from jdzhi.trace.trust.model import Trust
from jdzhi.trace.verification.result import Verdict
from jdzhi.trace.verification.verifier import (
    verify_jsonl,
    verify_label_text,
    verify_record,
    verify_signed_line,
)

NOW = datetime(2026, 3, 11, tzinfo=UTC)


world, pinned, trust = bundle_world_fixtures("fuzz-world", NOW)


@pytest.fixture(scope="module")
def labels(world: World) -> list[str]:
    return [line["label"] for line in world.lines()]


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="jdzhi-fuzz-") as folder:
        yield Path(folder)


#: byte edits per drawn seed in the mutation tests: hypothesis drives the seeds (and shrinks a
#: failure to one), a plain loop makes the volume cheap
EDITS_PER_SEED = 25


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One to four byte edits of ``data``: replace, insert, delete or truncate, anywhere."""
    changed = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(("replace", "replace", "insert", "delete", "truncate"))
        position = rng.randrange(max(len(changed), 1))
        if kind == "replace" and changed:
            changed[position] = rng.randrange(256)
        elif kind == "insert":
            changed[position:position] = rng.randbytes(rng.randint(1, 8))
        elif kind == "delete" and changed:
            del changed[position:position + rng.randint(1, 8)]
        elif kind == "truncate":
            del changed[position:]
    return bytes(changed)


def mutants(seed: int, data: bytes) -> Iterator[bytes]:
    rng = random.Random(seed)
    for _ in range(EDITS_PER_SEED):
        changed = mutate(rng, data)
        if changed != data:
            yield changed


SEEDS = st.integers(0, 2**64)


# --- labels --------------------------------------------------------------------------------------

@cases(3000)
@given(st.text(max_size=200))
def test_any_text_is_a_verdict_not_a_crash(trust: Trust, text: str) -> None:
    result = verify_label_text(text, trust, NOW)
    assert result.verdict is not Verdict.GENUINE


_LOOK_ALIKE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" * 7 + "=a0 1-"


@cases(2000)
@given(st.binary(min_size=118, max_size=130))
def test_base32_look_alikes_after_a_known_base(trust: Trust, choices: bytes) -> None:
    """Near-base32 payloads: mostly the alphabet, sometimes padding, lowercase or digits 0/1."""
    payload = "".join(_LOOK_ALIKE[byte % len(_LOOK_ALIKE)] for byte in choices)
    result = verify_label_text(DEFAULT_BASE_URL + payload, trust, NOW)
    assert result.verdict is not Verdict.GENUINE


@cases(1500)
@given(st.binary(min_size=LABEL_PAYLOAD_LENGTH, max_size=LABEL_PAYLOAD_LENGTH))
def test_random_payloads_of_the_right_length(trust: Trust, payload: bytes) -> None:
    """Well-formed base32 of 77 random bytes reaches every field check and the signature."""
    result = verify_label_text(DEFAULT_BASE_URL + base32_encode(payload), trust, NOW)
    assert result.verdict is not Verdict.GENUINE


@cases(1000)
@given(st.binary(max_size=100))
def test_label_payload_decoder(payload: bytes) -> None:
    try:
        label = decode_label_payload(payload)
    except LabelError:
        return
    assert label.payload() == payload


@cases(400)
@given(SEEDS)
def test_mutated_real_labels(trust: Trust, labels: list[str], seed: int) -> None:
    text = labels[seed % len(labels)]
    for changed in mutants(seed, text.encode("ascii")):
        result = verify_label_text(changed.decode("latin-1"), trust, NOW)
        assert result.verdict is not Verdict.GENUINE, changed


# --- full records and SIGNED.jsonl lines ---------------------------------------------------------

@cases(1500)
@given(st.binary(max_size=400))
def test_random_bytes_are_no_record(trust: Trust, data: bytes) -> None:
    assert verify_record(data, trust, NOW).verdict is Verdict.MALFORMED


@cases(400)
@given(SEEDS)
def test_mutated_real_records(trust: Trust, world: World, seed: int) -> None:
    from jdzhi.trace.formats.records import base64url_decode

    record = base64url_decode(world.lines()[seed % 3]["record"])
    for changed in mutants(seed, record):
        assert verify_record(changed, trust, NOW).verdict is not Verdict.GENUINE, changed.hex()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@cases(1000)
@given(data=st.data())
def test_hostile_signed_lines(trust: Trust, world: World, data: st.DataObject) -> None:
    """Real lines with any field replaced by any JSON value, or arbitrary JSON, or junk text."""
    entry: dict[str, Any] = dict(world.lines()[data.draw(st.integers(0, 2))])
    choice = data.draw(st.sampled_from(("field", "arbitrary", "text")))
    if choice == "field":
        for _ in range(data.draw(st.integers(1, 3))):
            name = data.draw(st.sampled_from([*sorted(entry), "extra"]))
            entry[name] = data.draw(_JSON)
        line = json.dumps(entry)
    elif choice == "arbitrary":
        line = json.dumps(data.draw(_JSON))
    else:
        line = data.draw(st.text(max_size=300))
    result = verify_signed_line(line, trust, NOW, line_no=1)
    assert result.verdict in set(Verdict)


def test_swapped_label_and_record_of_two_items(trust: Trust, world: World) -> None:
    first, second = world.lines()[:2]
    mixed = dict(first, label=second["label"])
    assert verify_signed_line(json.dumps(mixed), trust, NOW).verdict is Verdict.TAMPERED


@cases(500)
@given(st.binary(max_size=2000))
def test_signed_jsonl_files_of_any_bytes(trust: Trust, scratch: Path, content: bytes) -> None:
    path = scratch / "any.jsonl"
    path.write_bytes(content)
    try:
        results = verify_jsonl(path, trust, NOW)
    except InvalidInput:
        return
    assert all(not result.genuine for result in results)


# --- trust bundles -------------------------------------------------------------------------------

@cases(1500)
@given(st.binary(max_size=600))
def test_random_bytes_are_no_bundle(pinned: bytes, data: bytes) -> None:
    with pytest.raises(IntegrityError):
        decode_bundle(data, pinned, now=NOW)


@cases(300)
@given(SEEDS)
def test_mutated_real_bundles(world: World, pinned: bytes, seed: int) -> None:
    bundle = world.bundle.read_bytes()
    for changed in mutants(seed, bundle):
        with pytest.raises(IntegrityError):
            decode_bundle(changed, pinned, now=NOW)


_CBOR = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.text(max_size=20)
    | st.binary(max_size=40),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6) | st.integers(-5, 5), children, max_size=4),
    max_leaves=10,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replaced(value[head], rest, new)
    return copy


@pytest.fixture(scope="module")
def authority_sign(world: World) -> Any:
    from jdzhi.registry.db import open_registry
    from jdzhi.trace.keys.authority import load_authority

    db = open_registry(world.home)
    try:
        return load_authority(world.home, db, PASSPHRASE.encode()).sign
    finally:
        db.close()


@cases(600)
@given(data=st.data())
def test_authority_signed_bundles_with_malformed_fields(
    world: World, pinned: bytes, authority_sign: Any, data: st.DataObject
) -> None:
    """A bundle that the authority really signed but whose payload is malformed (a bug or a
    stolen key, not an attacker without the key) is still refused cleanly, field by field."""
    from jdzhi.trace.formats.cose import decode_sign1, dumps, sign1

    payload = cbor2.loads(decode_sign1(world.bundle.read_bytes()).payload)
    paths = list(_paths(payload))
    for _ in range(data.draw(st.integers(1, 2))):
        path = data.draw(st.sampled_from(paths))
        payload = _replaced(payload, path, data.draw(_CBOR))
        paths = list(_paths(payload))
    message = sign1(content_type=CONTENT_TYPES["bundle"], kid=authority_kid(pinned),
                    payload=dumps(payload), external_aad=external_aad("bundle"),
                    sign=authority_sign)
    try:
        decode_bundle(message, pinned, now=NOW)
    except IntegrityError:
        pass


# --- keys ----------------------------------------------------------------------------------------

@cases(40)
@given(SEEDS)
def test_damaged_key_files(world: World, scratch: Path, seed: int) -> None:
    from jdzhi.registry.db import open_registry
    from jdzhi.trace.keys.certified import key_by_public_key
    from jdzhi.trace.keys.keyfile import load_key

    original = world.key.read_bytes()
    expected = load_key(world.key, PASSPHRASE.encode()).public_key
    db = open_registry(world.home)
    path = scratch / "damaged.key"
    try:
        for content in [*mutants(seed, original), random.Random(seed).randbytes(200)]:
            path.write_bytes(content)
            try:
                key = load_key(path, PASSPHRASE.encode())
            except KeyUnusable:
                continue
            if key.public_key != expected:
                # AES-CBC lets a flipped ciphertext bit flip a bit of the decrypted seed: a
                # damaged file can load as another key, which the registry refuses to sign with
                with pytest.raises(KeyUnusable, match=r"never certified.*or a damaged one"):
                    key_by_public_key(db, key.public_key)
    finally:
        db.close()


@cases(1000)
@given(st.text(max_size=80) | st.binary(max_size=48).map(lambda b: base64.urlsafe_b64encode(
    b).decode().rstrip("=")) | st.binary(max_size=40).map(bytes.hex))
def test_public_key_arguments(text: str) -> None:
    from jdzhi.trace.keys.keyfile import read_public_key

    assume("\x00" not in text)
    try:
        key = read_public_key(text)
    except JdzhiError:
        return
    assert len(key) == 32
