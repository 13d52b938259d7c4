"""docs/format.md's known answers (tests/vectors/format-v1.json) checked by other implementations.

jdzhi made the vectors (tests/vectors/make_vectors.py) and tests/test_format.py checks them with
jdzhi's own decoders, so a mistake that jdzhi's encoder and decoder share would pass there. Here
nothing of jdzhi is imported: pycose reads and verifies the COSE_Sign1 messages, the standard
library decodes the labels' base32, cryptography (OpenSSL) checks the labels' Ed25519 signatures
(jdzhi signs and verifies with libsodium), and cbor2's canonical encoder checks that every CBOR
item is in its deterministic encoding. tests/vectors/README.md says where each vector comes from.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import cbor2
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pycose.algorithms import EdDSA
from pycose.headers import KID, Algorithm, ContentType
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message

VECTORS = json.loads((Path(__file__).parent / "vectors" / "format-v1.json").read_text("utf-8"))
KEYS = VECTORS["keys"]
LICENSEE_PUBLIC = bytes.fromhex(KEYS["licensee_public"])
AUTHORITY_PUBLIC = bytes.fromhex(KEYS["authority_public"])
#: docs/format.md "Key ids and certificates": the first 8 bytes of SHA-256 of the raw public key
AUTHORITY_KID = hashlib.sha256(AUTHORITY_PUBLIC).digest()[:8]
#: docs/format.md "The label": the domain prefix of the bytes a label signature covers
LABEL_DOMAIN = b"jdzhi/label/1\x00"
LABEL_HEADER_BYTES = 13


@dataclass(frozen=True)
class CoseKind:
    """What docs/format.md "Kinds of signed object" says of one kind's messages."""

    content_type: str
    external_aad: bytes
    signer_public: bytes
    kid: bytes


COSE_KINDS = {
    "record": CoseKind("application/vnd.jdzhi.record+cbor", b"jdzhi/record/1", LICENSEE_PUBLIC,
                       KEYS["licensee_key_id"].to_bytes(2, "big")),
    "certificate": CoseKind("application/vnd.jdzhi.cert+cbor", b"jdzhi/cert/1", AUTHORITY_PUBLIC,
                            AUTHORITY_KID),
    "bundle": CoseKind("application/vnd.jdzhi.bundle+cbor", b"jdzhi/bundle/1", AUTHORITY_PUBLIC,
                       AUTHORITY_KID),
}


def openssl_public_key(seed_hex: str) -> bytes:
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
    return private.public_key().public_bytes_raw()


def openssl_verifies(public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def cose_parts(kind: str) -> tuple[bytes, dict[object, object], bytes, bytes]:
    """The four parts of a vector's COSE_Sign1, taken apart by cbor2: (protected, unprotected,
    payload, signature)."""
    envelope = cbor2.loads(bytes.fromhex(VECTORS[kind]["cose_sign1_hex"]))
    assert isinstance(envelope, cbor2.CBORTag) and envelope.tag == 18, "not a tagged COSE_Sign1"
    assert len(envelope.value) == 4
    protected, unprotected, payload, signature = envelope.value
    return protected, dict(unprotected), payload, signature


def pycose_message(kind: str, external_aad: bytes, public: bytes) -> Sign1Message:
    """The vector's message as pycose holds it, with the key to verify it by.

    pycose 1.1's own ``Sign1Message.decode`` reads no tagged message when cbor2 is 6 or later:
    cbor2 6 decodes a tag's content as tuples and frozendicts, where pycose insists on a list and
    a dict. So cbor2 takes the envelope apart and pycose gets the parts through its public
    constructor; it still parses the protected header from its bytes, builds the Sig_structure
    and verifies the signature (with cryptography).
    """
    protected, _unprotected, payload, signature = cose_parts(kind)
    message = Sign1Message(phdr_encoded=protected, payload=payload, external_aad=external_aad,
                           key=OKPKey(crv=Ed25519, x=public))
    message.signature = signature
    return message


def b32decode_unpadded(text: str) -> bytes:
    """RFC 4648 base32 as the standard library reads it, after putting back the padding that
    labels leave out."""
    return base64.b32decode(text + "=" * (-len(text) % 8))


def assert_deterministic_cbor(data: bytes) -> None:
    assert cbor2.dumps(cbor2.loads(data), canonical=True) == data


# --- COSE_Sign1: record, certificate, trust bundle -----------------------------------------------

@pytest.mark.parametrize("kind", COSE_KINDS)
def test_pycose_verifies_the_signature_over_the_external_aad(kind: str) -> None:
    expected = COSE_KINDS[kind]
    message = pycose_message(kind, expected.external_aad, expected.signer_public)
    assert message.phdr == {Algorithm: EdDSA, ContentType: expected.content_type,
                            KID: expected.kid}
    assert message.uhdr == {}
    assert len(message.signature) == 64
    assert message.verify_signature()
    # pycose writes the very bytes of the vector: the envelope has one encoding
    assert message.encode(sign=False).hex() == VECTORS[kind]["cose_sign1_hex"]


@pytest.mark.parametrize("kind", COSE_KINDS)
def test_pycose_refuses_another_kinds_aad_and_another_key(kind: str) -> None:
    expected = COSE_KINDS[kind]
    for other in COSE_KINDS.values():
        if other.external_aad != expected.external_aad:
            message = pycose_message(kind, other.external_aad, expected.signer_public)
            assert not message.verify_signature()
    wrong_key = openssl_public_key(KEYS["uncertified_seed"])
    assert not pycose_message(kind, expected.external_aad, wrong_key).verify_signature()


@pytest.mark.parametrize("kind", COSE_KINDS)
def test_cose_headers_and_payload_are_deterministic_cbor(kind: str) -> None:
    protected, unprotected, payload, _signature = cose_parts(kind)
    expected = COSE_KINDS[kind]
    assert cbor2.loads(protected) == {1: -8, 3: expected.content_type, 4: expected.kid}
    assert unprotected == {}
    assert_deterministic_cbor(protected)
    assert_deterministic_cbor(payload)
    assert_deterministic_cbor(bytes.fromhex(VECTORS[kind]["cose_sign1_hex"]))


def test_record_sig_structure_built_by_cbor2_verifies_with_openssl() -> None:
    record = VECTORS["record"]
    protected, _unprotected, payload, signature = cose_parts("record")
    assert protected.hex() == record["protected_hex"]
    assert payload.hex() == record["payload_cbor_hex"]
    to_be_signed = cbor2.dumps(["Signature1", protected, record["external_aad"].encode(), payload],
                               canonical=True)
    assert to_be_signed.hex() == record["sig_structure_hex"]
    assert openssl_verifies(LICENSEE_PUBLIC, signature, to_be_signed)
    text = record["base64url"]
    assert base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).hex() == record["cose_sign1_hex"]


def test_payloads_name_the_keys_that_the_vectors_list() -> None:
    record = cbor2.loads(cose_parts("record")[2])
    certificate = cbor2.loads(cose_parts("certificate")[2])
    bundle = cbor2.loads(cose_parts("bundle")[2])
    key_id = KEYS["licensee_key_id"]
    assert (record["v"], record["k"], record["s"]) == (1, key_id, 2026000123)
    assert (certificate["k"], certificate["pk"], certificate["role"]) == (
        key_id, LICENSEE_PUBLIC, "licensee")
    assert bundle["apk"] == AUTHORITY_PUBLIC
    assert [(key["k"], key["pk"]) for key in bundle["keys"]] == [(key_id, LICENSEE_PUBLIC)]
    assert AUTHORITY_KID.hex() == KEYS["authority_kid"]


def test_public_keys_are_openssls_for_the_rfc8032_seeds() -> None:
    assert openssl_public_key(KEYS["licensee_seed"]) == LICENSEE_PUBLIC
    assert openssl_public_key(KEYS["authority_seed"]) == AUTHORITY_PUBLIC


# --- labels ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class StdlibLabel:
    """A label text read by the standard library at docs/format.md's offsets."""

    header: bytes
    signature: bytes
    key_id: int
    serial: int
    signed_at: int
    category: int

    @classmethod
    def read(cls, text: str) -> StdlibLabel:
        base = VECTORS["label"]["base"]
        assert text.startswith(base)
        encoded = text.removeprefix(base)
        payload = b32decode_unpadded(encoded)
        assert len(payload) == 77
        # one text per label: the standard encoder, unpadded, gives the same characters back
        assert base64.b32encode(payload).decode().rstrip("=") == encoded
        header = payload[:LABEL_HEADER_BYTES]
        assert header[0] == 1
        return cls(header, payload[LABEL_HEADER_BYTES:],
                   key_id=int.from_bytes(header[1:3], "big"),
                   serial=int.from_bytes(header[3:8], "big"),
                   signed_at=int.from_bytes(header[8:12], "big"),
                   category=header[12])

    def verifies_under(self, public: bytes) -> bool:
        return openssl_verifies(public, self.signature, LABEL_DOMAIN + self.header)


def test_label_bytes_with_the_standard_librarys_base32_and_openssl() -> None:
    vector = VECTORS["label"]
    assert vector["text"] == vector["base"] + vector["payload_base32"]
    assert b32decode_unpadded(vector["payload_base32"]).hex() == vector["payload_hex"]
    label = StdlibLabel.read(vector["text"])
    assert label.header.hex() == vector["header_hex"]
    assert (label.key_id, label.serial, label.signed_at, label.category) == (
        vector["fields"]["key_id"], vector["fields"]["serial"], vector["fields"]["signed_at"],
        vector["fields"]["category"])
    assert (LABEL_DOMAIN + label.header).hex() == vector["signing_input_hex"]
    assert label.signature.hex() == vector["signature_hex"]
    assert label.verifies_under(LICENSEE_PUBLIC)


#: the public key of each key id that signs a verdict case's label (9: the uncertified key)
SIGNERS = {KEYS["licensee_key_id"]: LICENSEE_PUBLIC,
           9: openssl_public_key(KEYS["uncertified_seed"])}
CASES = {case["name"]: case for case in VECTORS["verdict_cases"]}


@pytest.mark.parametrize("case", VECTORS["verdict_cases"], ids=lambda case: case["name"])
def test_verdict_case_labels_with_the_standard_librarys_base32_and_openssl(
        case: dict[str, str]) -> None:
    """What the label alone tells: a malformed text is not RFC 4648 base32 (the decoder is
    case-sensitive), a tampered one fails its signature, every other one is signed by the key its
    header names."""
    if case["verdict"] == "malformed":
        with pytest.raises(binascii.Error):
            b32decode_unpadded(case["label"].removeprefix(VECTORS["label"]["base"].lower()))
        return
    label = StdlibLabel.read(case["label"])
    assert label.verifies_under(SIGNERS[label.key_id]) is (case["verdict"] != "tampered")


def test_bundle_holds_the_facts_each_verdict_case_turns_on() -> None:
    """docs/format.md "Verdicts", with the bundle read by cbor2 and the labels by the standard
    library: each case differs from the genuine one in the fact its name gives."""
    bundle = cbor2.loads(cose_parts("bundle")[2])
    (key,) = bundle["keys"]
    (license_,) = bundle["lics"]
    revoked_at = next(event["at"] for event in license_["ev"] if event["s"] == "revoked")

    def label(name: str) -> StdlibLabel:
        return StdlibLabel.read(CASES[name]["label"])

    genuine = label("signed before the revocation: genuine (with a reason)")
    assert genuine.key_id == key["k"] and key["nb"] <= genuine.signed_at <= key["na"]
    assert genuine.signed_at < revoked_at and genuine.category in license_["cats"]
    assert label("signed after the revocation took effect").signed_at >= revoked_at
    assert label("a key the authority never certified").key_id not in {
        known["k"] for known in bundle["keys"]}
    assert label("category not covered by the license").category not in license_["cats"]
    assert label("signed after the key's window").signed_at > key["na"]
