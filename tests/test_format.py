"""The signed formats (docs/format.md): peer vectors for the primitives, strict decoding, the QR
size contract, and that no single-character change of a label verifies."""

from __future__ import annotations

import base64
import json
import string
from datetime import UTC, date, datetime
from pathlib import Path

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jdzhi.trace.ed25519 import verify
from jdzhi.trace.formats import cose
from jdzhi.trace.formats.base32 import base32_decode, base32_encode
from jdzhi.trace.formats.common import WARE_CLASSES, FormatError, LabelError, parse_serial
from jdzhi.trace.formats.labels import (
    DEFAULT_BASE_URL,
    LABEL_PAYLOAD_CHARS,
    LabelFields,
    check_base_url,
    decode_label_text,
)
from jdzhi.trace.formats.records import (
    RecordFields,
    base64url,
    base64url_decode,
    decode_record,
    record_payload,
    sign_record,
)
from jdzhi.trace.keys.keyfile import from_seed
from jdzhi.trace.trust.bundle import decode_bundle
from jdzhi.trace.verification.result import Verdict
from jdzhi.trace.verification.verifier import verify_label_text, verify_record

VECTORS = json.loads((Path(__file__).parent / "vectors" / "format-v1.json").read_text("utf-8"))
NOW = datetime(2026, 7, 2, tzinfo=UTC)
#: every character a QR alphanumeric segment can hold: the alphabet of a label text
QR_ALPHANUMERIC = string.digits + string.ascii_uppercase + " $%*+-./:"


@pytest.fixture(scope="module")
def trust():  # type: ignore[no-untyped-def]
    return decode_bundle(bytes.fromhex(VECTORS["bundle"]["cose_sign1_hex"]),
                         bytes.fromhex(VECTORS["keys"]["authority_public"]), now=NOW)


# --- peer vectors ------------------------------------------------------------------------------

#: RFC 8032 §7.1, TEST 1, 2 and 3: (secret, public, message, signature)
RFC8032 = [
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b4"
     "6bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d"
     "8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6"
     "594a7c15e9716ed28dc027beceea1ec40a"),
]


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032)
def test_rfc8032_ed25519_vectors(secret: str, public: str, message: str, signature: str) -> None:
    key = from_seed(bytes.fromhex(secret))
    assert key.public_key.hex() == public
    assert key.sign(bytes.fromhex(message)).hex() == signature
    assert verify(bytes.fromhex(public), bytes.fromhex(signature), bytes.fromhex(message))
    flipped = bytes([bytes.fromhex(signature)[0] ^ 1]) + bytes.fromhex(signature)[1:]
    assert not verify(bytes.fromhex(public), flipped, bytes.fromhex(message))


#: RFC 4648 §10 test vectors, written without padding as jdzhi uses base32
RFC4648 = [("", ""), ("f", "MY"), ("fo", "MZXQ"), ("foo", "MZXW6"), ("foob", "MZXW6YQ"),
           ("fooba", "MZXW6YTB"), ("foobar", "MZXW6YTBOI")]


@pytest.mark.parametrize(("plain", "encoded"), RFC4648)
def test_rfc4648_base32_vectors(plain: str, encoded: str) -> None:
    assert base32_encode(plain.encode()) == encoded
    assert base32_decode(encoded) == plain.encode()


def test_cose_wg_sign1_example_sig_structure() -> None:
    """cose-wg/Examples eddsa-examples/eddsa-sig-02.json (EdDSA sign1; its key is Ed448): our
    Sig_structure matches its ToBeSign bytes and its signature verifies over them."""
    from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey

    message = bytes.fromhex(
        "D28443A10127A10445336434343854546869732069732074686520636F6E74656E742E5872988240A3A2F1"
        "89BD486DE14AA77F54686C576A09F2E7ED9BAE910DF9139C2AC3BE7C27B7E10A20FA17C9D57D3510A2CF1F"
        "634BC0345AB9BE00849842171D1E9E98B2674C0E38BFCF6C557A1692B01B71015A47AC9F7748840CAD1DA8"
        "0CBB5B349309FEBB912672B377C8B2072AF1598B3700"
    )
    to_be_signed = bytes.fromhex(
        "846A5369676E61747572653143A101274054546869732069732074686520636F6E74656E742E")
    x = bytes.fromhex("5fd7449b59b461fd2ce787ec616ad46a1da1342485a70e1f8a0ea75d80e96778edf12476"
                      "9b46c7061bd6783df1e50f6cd1fa1abeafe8256180")
    tag = cbor2.loads(message)
    assert tag.tag == cose.COSE_SIGN1_TAG
    protected, _unprotected, payload, signature = tag.value
    assert cose.sig_structure(protected, b"", payload) == to_be_signed
    Ed448PublicKey.from_public_bytes(x).verify(signature, to_be_signed)
    # jdzhi's strict decoder refuses it: a kid in the unprotected header, no content type
    with pytest.raises(cose.CoseError):
        cose.decode_sign1(message)


# --- own vectors --------------------------------------------------------------------------------

def test_vectors_file_is_what_the_script_makes() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_vectors", Path(__file__).parent / "vectors" / "make_vectors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build() == VECTORS


@pytest.mark.parametrize("case", VECTORS["verdict_cases"], ids=lambda case: case["name"])
def test_vector_verdicts(case: dict[str, str]) -> None:
    now = datetime.fromisoformat(case["now"])
    trust = decode_bundle(bytes.fromhex(VECTORS["bundle"]["cose_sign1_hex"]),
                          bytes.fromhex(VECTORS["keys"]["authority_public"]), now=now)
    assert verify_label_text(case["label"], trust, now).verdict == case["verdict"]


def test_label_layout_matches_the_documented_bytes() -> None:
    label = VECTORS["label"]
    fields = LabelFields(**label["fields"])
    assert fields.header().hex() == label["header_hex"] == "0100070078c24efb6968512801"
    assert fields.signing_input() == b"jdzhi/label/1\x00" + fields.header()
    assert len(bytes.fromhex(label["payload_hex"])) == 77
    assert label["text"] == DEFAULT_BASE_URL + label["payload_base32"]
    assert len(label["payload_base32"]) == LABEL_PAYLOAD_CHARS
    record = bytes.fromhex(VECTORS["record"]["cose_sign1_hex"])
    _message, decoded = decode_record(record)
    assert decoded.serial == 2026000123 and decoded.name == "青花缠枝莲纹碗 bowl"


# --- the QR size contract ----------------------------------------------------------------------

@pytest.mark.parametrize("base", [DEFAULT_BASE_URL, "HTTPS://JDZ-TRACE.EXAMPLE.CN/V/"[:30]])
def test_longest_label_fits_qr_version_6_m_with_both_encoders(base: str) -> None:
    import numpy as np
    import qrcode
    import zxingcpp
    from qrcode.constants import ERROR_CORRECT_M

    text = base + "7" * LABEL_PAYLOAD_CHARS  # the densest payload characters
    assert len(text) <= 154
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    assert qr.version <= 6
    symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    size = np.array(symbol.to_image(scale=1, add_quiet_zones=False)).shape[0]
    assert (size - 17) // 4 <= 6
    # and it decodes back to exactly the text
    image = symbol.to_image(scale=4)
    assert zxingcpp.read_barcode(image).text == text


def test_base_url_rules() -> None:
    assert check_base_url("HTTP://127.0.0.1:8765/V/") == "HTTP://127.0.0.1:8765/V/"
    for bad in ("https://trace.example.cn/v/", "HTTPS://TRACE.EXAMPLE.CN/V", "FTP://X/",
                "HTTPS://A-VERY-LONG-HOST.EXAMPLE.CN/V/"):
        with pytest.raises(FormatError):
            check_base_url(bad)


# --- strict decoding ---------------------------------------------------------------------------

def test_serial_rule() -> None:
    assert parse_serial("1") == 1 and parse_serial("999999999999") == 999_999_999_999
    for bad in ("", "0", "0123", "1234567890123", "12a", " 12", "١٢", "1e3", "+1"):
        with pytest.raises(FormatError, match="1 to 12 decimal digits"):
            parse_serial(bad)


def test_non_canonical_label_texts_are_malformed(trust) -> None:  # type: ignore[no-untyped-def]
    text = VECTORS["label"]["text"]
    payload = text[len(DEFAULT_BASE_URL):]
    last = payload[-1]
    spare = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".index(last) | 1]
    variants = {
        "lowercase payload": DEFAULT_BASE_URL + payload.lower(),
        "padding": text + "====",
        "trailing junk": text + "A",
        "trailing newline": text + "\n",
        "truncated": text[:-1],
        "spare bits set": text[:-1] + spare,
        "wrong base": "HTTPS://TRACE.EXAMPLE.COM/V/" + payload,
        "no base": payload,
        "lowercase base": DEFAULT_BASE_URL.lower() + payload,
    }
    for name, variant in variants.items():
        assert variant != text
        result = verify_label_text(variant, trust, NOW)
        assert result.verdict is Verdict.MALFORMED, name


def test_every_single_character_change_of_a_label_is_rejected(trust) -> None:  # type: ignore[no-untyped-def]
    text = VECTORS["label"]["text"]
    assert verify_label_text(text, trust, NOW).verdict is Verdict.GENUINE
    alphabet = QR_ALPHANUMERIC + string.ascii_lowercase + "=_"
    tried = 0
    for position in range(len(text)):
        for char in alphabet:
            if char == text[position]:
                continue
            changed = text[:position] + char + text[position + 1:]
            assert verify_label_text(changed, trust, NOW).verdict is not Verdict.GENUINE, (
                position, char)
            tried += 1
        deleted = text[:position] + text[position + 1:]
        assert verify_label_text(deleted, trust, NOW).verdict is Verdict.MALFORMED
        inserted = text[:position] + "A" + text[position:]
        assert verify_label_text(inserted, trust, NOW).verdict is not Verdict.GENUINE
    assert tried == len(text) * (len(alphabet) - 1) - sum(
        1 for char in text if char not in alphabet)


def test_record_must_be_canonical_cbor(trust) -> None:  # type: ignore[no-untyped-def]
    record = bytes.fromhex(VECTORS["record"]["cose_sign1_hex"])
    assert verify_record(record, trust, NOW).verdict is Verdict.GENUINE
    tag = cbor2.loads(record)
    protected, _, payload, signature = tag.value
    # the same map with key id 7 written as a two-byte integer (0x18 0x07): not the shortest form
    assert b"\x61k\x07" in payload
    long_int = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload.replace(
        b"\x61k\x07", b"\x61k\x18\x07"), signature]), canonical=True)
    assert verify_record(long_int, trust, NOW).verdict is Verdict.MALFORMED
    unsorted = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, cbor2.dumps(
        dict(reversed(list(cbor2.loads(payload).items())))), signature]))
    assert verify_record(unsorted, trust, NOW).verdict is Verdict.MALFORMED
    untagged = cbor2.dumps([protected, {}, payload, signature], canonical=True)
    assert verify_record(untagged, trust, NOW).verdict is Verdict.MALFORMED
    for cut in (0, 1, len(record) // 2, len(record) - 1):
        assert verify_record(record[:cut], trust, NOW).verdict is Verdict.MALFORMED
    assert verify_record(record + b"\x00", trust, NOW).verdict is Verdict.MALFORMED
    # the same message with a longer head than needed: for the tag, the protected header's
    # byte string, the payload's, the signature's
    head = b"\xd2\x84" + cbor2.dumps(protected)
    stretched = [b"\xd8\x12\x84" + record[2:],
                 b"\xd2\x84\x59" + len(protected).to_bytes(2, "big") + protected
                 + record[len(head):],
                 head + b"\xa0\x59" + len(payload).to_bytes(2, "big") + payload
                 + cbor2.dumps(signature),
                 head + b"\xa0" + cbor2.dumps(payload) + b"\x59\x00\x40" + signature]
    for data in stretched:
        assert cbor2.loads(data) == tag
        result = verify_record(data, trust, NOW)
        assert result.verdict is Verdict.MALFORMED
        assert result.reasons == ("not a jdzhi record: record is not in deterministic CBOR "
                                  "encoding",)


def test_every_single_byte_change_of_a_record_is_rejected(trust) -> None:  # type: ignore[no-untyped-def]
    record = bytearray(bytes.fromhex(VECTORS["record"]["cose_sign1_hex"]))
    for index in range(len(record)):
        changed = bytearray(record)
        changed[index] ^= 0x01
        assert verify_record(bytes(changed), trust, NOW).verdict is not Verdict.GENUINE, index


# --- round trips -------------------------------------------------------------------------------

@given(st.binary(max_size=100))
@settings(deadline=None)
def test_base32_round_trip(data: bytes) -> None:
    assert base32_encode(data) == base64.b32encode(data).decode().rstrip("=")
    assert base32_decode(base32_encode(data)) == data
    assert base64url_decode(base64url(data)) == data


@given(st.text(max_size=140))
@settings(max_examples=300, deadline=None)
def test_decoding_any_text_fails_only_cleanly(text: str) -> None:
    try:
        decode_label_text(DEFAULT_BASE_URL + text, (DEFAULT_BASE_URL,))
    except LabelError:
        pass


@given(
    key_id=st.integers(1, 0xFFFF), serial=st.integers(1, 999_999_999_999),
    signed_at=st.integers(0, 0xFFFFFFFF), category=st.integers(1, 255),
    batch=st.text(min_size=1, max_size=20), name=st.none() | st.text(max_size=30),
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    # ware class (a closed list: docs/format.md), report number, work registration number
    others=st.tuples(st.none() | st.sampled_from(WARE_CLASSES),
                     *[st.none() | st.text(max_size=64)] * 2),
)
@settings(max_examples=60, deadline=None)
def test_sign_and_decode_round_trip(key_id: int, serial: int, signed_at: int, category: int,
                                    batch: str, name: str | None, day: date,
                                    others: tuple[str | None, str | None, str | None]) -> None:
    key = from_seed(bytes(32))
    fields = RecordFields(key_id, serial, signed_at, category, 1, batch, "qinghua", day,
                          name, *others)
    # the fast encoder of the signing path writes exactly the deterministic CBOR
    assert record_payload(fields) == cose.dumps(fields.to_cbor_map())
    signed = sign_record(fields, key.sign)
    text = signed.label.text(DEFAULT_BASE_URL)
    assert len(text) == len(DEFAULT_BASE_URL) + LABEL_PAYLOAD_CHARS
    label = decode_label_text(text, (DEFAULT_BASE_URL,))
    assert label == signed.label and label.fields == fields.label_fields
    assert verify(key.public_key, label.signature, label.fields.signing_input())
    message, decoded = decode_record(signed.record)
    assert decoded == fields
    assert cose.verify_sign1(message, key.public_key, b"jdzhi/record/1")
    assert not cose.verify_sign1(message, key.public_key, b"jdzhi/cert/1")


@given(st.binary(max_size=400))
@settings(max_examples=300, deadline=None)
def test_arbitrary_bytes_as_a_record_give_a_verdict_never_a_crash(data: bytes) -> None:
    trust = decode_bundle(bytes.fromhex(VECTORS["bundle"]["cose_sign1_hex"]),
                          bytes.fromhex(VECTORS["keys"]["authority_public"]), now=NOW)
    assert verify_record(data, trust, NOW).verdict is not Verdict.GENUINE


@given(st.binary(max_size=400))
@settings(max_examples=300, deadline=None)
def test_arbitrary_bytes_as_a_bundle_are_refused_cleanly(data: bytes) -> None:
    from jdzhi.errors import IntegrityError

    with pytest.raises(IntegrityError):
        decode_bundle(data, bytes.fromhex(VECTORS["keys"]["authority_public"]), now=NOW)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8))
@settings(max_examples=200, deadline=None)
def test_arbitrary_json_lines_give_a_verdict_never_a_crash(value: object) -> None:
    from jdzhi.trace.verification.verifier import verify_signed_line

    trust = decode_bundle(bytes.fromhex(VECTORS["bundle"]["cose_sign1_hex"]),
                          bytes.fromhex(VECTORS["keys"]["authority_public"]), now=NOW)
    result = verify_signed_line(json.dumps(value), trust, NOW)
    assert result.verdict is Verdict.MALFORMED


def test_a_malleated_signature_does_not_verify(trust) -> None:  # type: ignore[no-untyped-def]
    """S + L is the same signature in a non-canonical form (RFC 8032 §5.1.7 requires S < L):
    refusing it keeps every label to exactly one text."""
    order = 2**252 + 27742317777372353535851937790883648493
    label = decode_label_text(VECTORS["label"]["text"], (DEFAULT_BASE_URL,))
    s = int.from_bytes(label.signature[32:], "little")
    malleated = label.signature[:32] + (s + order).to_bytes(32, "little")
    text = DEFAULT_BASE_URL + base32_encode(label.fields.header() + malleated)
    assert verify_label_text(text, trust, NOW).verdict is Verdict.TAMPERED
