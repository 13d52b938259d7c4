"""The rules docs/format.md settled where two honest verifiers disagreed, held by the vectors of
tests/vectors/format-v1.json (``more``, ``bundle_cases``, ``record_cases``,
``signed_jsonl_cases``, ``small_order_forgery``) in jdzhi and in the page's verify.js (Node)."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jdzhi.errors import IntegrityError
from jdzhi.trace import ed25519
from jdzhi.trace.formats.certs import CertFields, sign_cert
from jdzhi.trace.formats.common import FormatError
from jdzhi.trace.formats.labels import DEFAULT_BASE_URL, split_label_text
from jdzhi.trace.keys.keyfile import from_seed
from jdzhi.trace.trust.bundle import BUNDLE_KEYS, OPTIONAL_BUNDLE_KEYS, decode_bundle
from jdzhi.trace.verification.verifier import Verifier

REPO = Path(__file__).resolve().parents[1]
VECTORS: dict[str, Any] = json.loads(
    (REPO / "tests" / "vectors" / "format-v1.json").read_text(encoding="utf-8"))
VERIFY_JS = REPO / "jdzhi" / "trace" / "page" / "static" / "verify.js"
AUTHORITY = bytes.fromhex(VECTORS["keys"]["authority_public"])
NOW = datetime(2026, 7, 2, tzinfo=UTC)


def _bundle(hex_text: str, now: datetime = NOW) -> Any:
    return decode_bundle(bytes.fromhex(hex_text), AUTHORITY, now=now)


@pytest.mark.parametrize("case", VECTORS["bundle_cases"], ids=lambda case: case["name"])
def test_bundle_cases(case: dict[str, Any]) -> None:
    if case["accepted"]:
        assert _bundle(case["cose_sign1_hex"]).keys
    else:
        with pytest.raises(IntegrityError, match=r"invalid field|endorsement"):
            _bundle(case["cose_sign1_hex"])


def test_the_bundle_keys_are_the_listed_ones_and_the_reserved_optional_ones() -> None:
    assert BUNDLE_KEYS == {"v", "iat", "exp", "apk", "bases", "keys", "ents", "lics", "cats",
                           "labs", "ends"}
    assert OPTIONAL_BUNDLE_KEYS == {"ckpt", "cprf", "logged", "rcl"}


@pytest.mark.parametrize("case", VECTORS["more"]["verdict_cases"], ids=lambda case: case["name"])
def test_the_wider_bundle_verdicts(case: dict[str, str]) -> None:
    now = datetime.fromisoformat(case["now"])
    trust = _bundle(VECTORS["more"]["bundle_cose_sign1_hex"], now)
    assert Verifier(trust, now).label_text(case["label"]).verdict == case["verdict"]


def test_the_wider_bundle_carries_a_passing_endorsement_of_the_vector_label() -> None:
    trust = _bundle(VECTORS["more"]["bundle_cose_sign1_hex"])
    result = Verifier(trust, NOW).label_text(VECTORS["label"]["text"])
    assert result.genuine and result.endorsement.status == "pass"
    assert result.endorsement.report_no == "JDZT-2026-0042"


@pytest.mark.parametrize("case", VECTORS["record_cases"], ids=lambda case: case["name"])
def test_record_cases(case: dict[str, str]) -> None:
    trust = _bundle(VECTORS["bundle"]["cose_sign1_hex"])
    result = Verifier(trust, NOW).record(bytes.fromhex(case["cose_sign1_hex"]))
    assert result.verdict == case["verdict"], result.reasons


@pytest.mark.parametrize("case", VECTORS["signed_jsonl_cases"], ids=lambda case: case["name"])
def test_signed_jsonl_cases(case: dict[str, str]) -> None:
    trust = _bundle(VECTORS["bundle"]["cose_sign1_hex"])
    result = Verifier(trust, NOW).signed_line(case["line"], 1)
    assert result.verdict == case["verdict"], result.reasons


def test_the_small_order_forgery_is_rejected_and_never_certified() -> None:
    forgery = VECTORS["small_order_forgery"]
    public_key = bytes.fromhex(forgery["public_key_hex"])
    signature = bytes.fromhex(forgery["signature_hex"])
    assert ed25519.has_small_order(public_key) and ed25519.has_small_order(signature[:32])
    assert not ed25519.verify(public_key, signature, bytes.fromhex(forgery["message_hex"]))
    authority = from_seed(bytes.fromhex(VECTORS["keys"]["authority_seed"]))
    with pytest.raises(FormatError, match="never certifies"):
        sign_cert(CertFields(3, public_key, "licensee", 0, 1, 1, 1), authority.public_key,
                  authority.sign)
    # the sign bit does not make a small-order point usable
    assert ed25519.has_small_order(public_key[:31] + bytes([public_key[31] | 0x80]))
    assert not ed25519.has_small_order(bytes.fromhex(VECTORS["keys"]["licensee_public"]))


def test_of_two_bases_one_a_prefix_of_the_other_the_longer_decides() -> None:
    text = VECTORS["label"]["text"]
    shorter = DEFAULT_BASE_URL[:DEFAULT_BASE_URL.rindex("/", 0, -1) + 1]
    assert split_label_text(text, (shorter, DEFAULT_BASE_URL))[0] == DEFAULT_BASE_URL
    trust = _bundle(VECTORS["bundle"]["cose_sign1_hex"])
    from dataclasses import replace

    both = replace(trust, bases=(shorter, DEFAULT_BASE_URL))
    assert Verifier(both, NOW).label_text(text).genuine


def test_the_authority_key_text_forms() -> None:
    from jdzhi.errors import InvalidInput
    from jdzhi.trace.keys.keyfile import read_public_key

    forms = VECTORS["authority_key_text"]
    assert read_public_key(forms["base64url"]) == AUTHORITY == read_public_key(forms["hex"])
    for text in forms["refused"]:
        with pytest.raises(InvalidInput):
            read_public_key(text)


RUNNER = """
import { readFileSync } from "node:fs";
import { decodeBundle, ed25519Verify, hasSmallOrder } from "./verify.mjs";
const vectors = JSON.parse(readFileSync(process.argv[2], "utf8"));
const hex = (text) => Uint8Array.from(text.match(/../g), (pair) => parseInt(pair, 16));
const authority = hex(vectors.keys.authority_public);
const bundles = [];
for (const item of vectors.bundle_cases) {
  try {
    await decodeBundle(hex(item.cose_sign1_hex), authority);
    bundles.push(true);
  } catch {
    bundles.push(false);
  }
}
const forgery = vectors.small_order_forgery;
const forged = await ed25519Verify(hex(forgery.public_key_hex), hex(forgery.signature_hex),
  hex(forgery.message_hex));
const smallOrder = [hasSmallOrder(hex(forgery.public_key_hex)),
  hasSmallOrder(hex(vectors.keys.licensee_public))];
process.stdout.write(JSON.stringify({ bundles, forged, smallOrder }));
"""


def test_the_page_settles_the_same_way(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    (tmp_path / "verify.mjs").write_text(VERIFY_JS.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "runner.mjs").write_text(RUNNER, encoding="utf-8")
    done = subprocess.run(
        [node, str(tmp_path / "runner.mjs"), str(REPO / "tests" / "vectors" / "format-v1.json")],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    page = json.loads(done.stdout)
    assert page["bundles"] == [case["accepted"] for case in VECTORS["bundle_cases"]]
    assert page["forged"] is False
    assert page["smallOrder"] == [True, False]
