"""The transparency log's pure core: RFC 9162 trees and proofs, signed notes, checkpoints and
cosignatures, against known answers from transparency-dev, Go and the C2SP specs
(tests/vectors/tlog/README.md), an independent implementation (pymerkle) and properties."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jdzhi.errors import IntegrityError, InvalidInput
from jdzhi.trace import ed25519
from jdzhi.trace.tlog.checkpoint import (
    Checkpoint,
    MalformedCheckpoint,
    open_checkpoint,
    parse_checkpoint,
)
from jdzhi.trace.tlog.cosignature import (
    CosignatureVerifier,
    Cosigner,
    cosignature_of,
    signed_message,
)
from jdzhi.trace.tlog.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from jdzhi.trace.tlog.note import (
    MAX_SIGNATURES,
    Ed25519NoteSigner,
    Ed25519NoteVerifier,
    MalformedNote,
    Note,
    NoteSignature,
    SignatureType,
    VerifierKey,
    parse_note,
    sign_note,
    verify_note,
)

VECTORS = Path(__file__).parent / "vectors" / "tlog"
NOTES = json.loads((VECTORS / "signed-notes.json").read_text(encoding="utf-8"))
GO, C2SP = NOTES["go"], NOTES["c2sp"]
PROPERTIES = settings(max_examples=150, deadline=None, derandomize=True)

# testonly/constants.go of transparency-dev/merkle (provenance in the vectors' README)
LEAF_INPUTS = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")]
LEAF_HASHES = [leaf_hash(data) for data in LEAF_INPUTS]


def _probes(kind: str) -> list[dict[str, Any]]:
    document = json.loads((VECTORS / f"transparency-dev-{kind}.json").read_text("utf-8"))
    probes: list[dict[str, Any]] = document["probes"]
    return probes


def _b64(text: str | None) -> bytes:
    return base64.b64decode(text or "")


def _secret(seed: bytes) -> bytes:
    from nacl.bindings import crypto_sign_seed_keypair

    public_key, secret = crypto_sign_seed_keypair(seed)
    assert secret == ed25519.secret_key(seed, public_key)
    return bytes(secret)


def _seed(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


# --- the tree ----------------------------------------------------------------------------------

def test_roots_of_every_size_are_transparency_devs() -> None:
    tree = MerkleTree(LEAF_HASHES)
    for size, expected in enumerate(ROOTS):
        assert root(LEAF_HASHES[:size]) == expected
        assert tree.root(size) == expected
    assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()


def test_leaf_and_node_hashes_use_the_rfc_prefixes() -> None:
    assert leaf_hash(b"") == ROOTS[1]
    assert node_hash(LEAF_HASHES[0], LEAF_HASHES[1]) == ROOTS[2]
    # Go's tlog.RecordHash("hello world"), the root of its checkpoint vector
    assert leaf_hash(GO["tree_checkpoint_leaf_data"].encode()) == _b64(
        GO["tree_checkpoint"].split("\n")[2])


@pytest.mark.parametrize("probe", _probes("inclusion"), ids=lambda p: p["file"])
def test_inclusion_probes_of_transparency_dev(probe: dict[str, Any]) -> None:
    check = verify_inclusion(_b64(probe["leafHash"]), probe["leafIdx"], probe["treeSize"],
                             [_b64(h) for h in probe["proof"] or []], _b64(probe["root"]))
    assert check.ok is not probe["wantErr"], check
    if not check.ok:
        assert check.failure is not None and check.detail


# Go accepts equal sizes with 12-byte "roots"; a SHA-256 root is 32 bytes (README.md)
REFUSED_ON_PURPOSE = {"testdata/consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"}


@pytest.mark.parametrize("probe", _probes("consistency"), ids=lambda p: p["file"])
def test_consistency_probes_of_transparency_dev(probe: dict[str, Any]) -> None:
    check = verify_consistency(probe["size1"], probe["size2"], _b64(probe["root1"]),
                               _b64(probe["root2"]), [_b64(h) for h in probe["proof"] or []])
    if probe["file"] in REFUSED_ON_PURPOSE:
        assert check.failure == "bad-hash"
    else:
        assert check.ok is not probe["wantErr"], check


def test_generated_proofs_are_the_vectors_happy_paths() -> None:
    tree = MerkleTree(LEAF_HASHES)
    compared = 0
    for probe in _probes("inclusion"):
        size = probe["treeSize"]
        if not probe["wantErr"] and size <= 8 and _b64(probe["root"]) == ROOTS[size]:
            expected = [_b64(h) for h in probe["proof"] or []]
            assert tree.inclusion_proof(probe["leafIdx"], size) == expected
            compared += 1
    for probe in _probes("consistency"):
        size1, size2 = probe["size1"], probe["size2"]
        if not probe["wantErr"] and size2 <= 8 and _b64(probe["root2"]) == ROOTS[size2]:
            assert tree.consistency_proof(size1, size2) == [_b64(h) for h in probe["proof"] or []]
            compared += 1
    assert compared >= 8


def test_the_proof_functions_over_leaf_hashes_are_the_trees() -> None:
    tree = MerkleTree(LEAF_HASHES)
    assert inclusion_proof(LEAF_HASHES, 5) == tree.inclusion_proof(5)
    assert consistency_proof(LEAF_HASHES, 3) == tree.consistency_proof(3)
    assert tree.consistency_proof(8) == []


def test_bad_requests_for_proofs_are_refused() -> None:
    tree = MerkleTree(LEAF_HASHES)
    for call in (lambda: tree.inclusion_proof(8), lambda: tree.inclusion_proof(-1),
                 lambda: tree.inclusion_proof(0, 0), lambda: tree.consistency_proof(0),
                 lambda: tree.consistency_proof(5, 4), lambda: tree.root(9),
                 lambda: MerkleTree([b"short"])):
        with pytest.raises(InvalidInput):
            call()


def test_malformed_proofs_say_why() -> None:
    proof = MerkleTree(LEAF_HASHES).inclusion_proof(2, 5)
    leaf, good_root = LEAF_HASHES[2], ROOTS[5]
    assert verify_inclusion(leaf, 2, 5, proof, good_root).ok
    assert verify_inclusion(leaf, 2, 0, proof, good_root).failure == "bad-size"
    assert verify_inclusion(leaf, 5, 5, proof, good_root).failure == "bad-index"
    assert verify_inclusion(leaf[:31], 2, 5, proof, good_root).failure == "bad-hash"
    assert verify_inclusion(leaf, 2, 5, proof[:-1], good_root).failure == "wrong-proof-length"
    assert verify_inclusion(leaf, 2, 5, [*proof, leaf], good_root).failure == "wrong-proof-length"
    assert verify_inclusion(leaf, 2, 5, proof * 30, good_root).failure == "wrong-proof-length"
    assert verify_inclusion(LEAF_HASHES[3], 2, 5, proof, good_root).failure == "mismatch"
    old, new = ROOTS[3], ROOTS[7]
    growth = MerkleTree(LEAF_HASHES).consistency_proof(3, 7)
    assert verify_consistency(3, 7, old, new, growth).ok
    assert verify_consistency(0, 7, EMPTY_ROOT, new, growth).failure == "bad-size"
    assert verify_consistency(7, 3, new, old, growth).failure == "bad-size"
    assert verify_consistency(3, 2**63, old, new, growth).failure == "bad-size"
    assert verify_consistency(3, 7, old, new, []).failure == "wrong-proof-length"
    assert verify_consistency(3, 7, old, new, growth[:-1]).failure == "wrong-proof-length"
    assert verify_consistency(3, 7, new, new, growth).failure == "mismatch"
    assert verify_consistency(7, 7, new, new, []).ok
    assert verify_consistency(7, 7, new, old, []).failure == "mismatch"
    assert verify_consistency(7, 7, new, new, [new]).failure == "wrong-proof-length"


def _flip(value: bytes, bit: int) -> bytes:
    changed = bytearray(value)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


@st.composite
def _trees(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    size = draw(st.integers(1, 300))
    leaves = [hashlib.sha256(b"%d" % i + draw(st.binary(max_size=2))).digest()
              for i in range(size)]
    return leaves, draw(st.integers(0, size - 1)), draw(st.integers(1, size))


@PROPERTIES
@given(_trees(), st.integers(0, 255), st.data())
def test_every_inclusion_proof_verifies_and_one_bit_breaks_it(
        case: tuple[list[bytes], int, int], bit: int, data: st.DataObject) -> None:
    leaves, index, _ = case
    tree = MerkleTree(leaves)
    proof, tree_root = tree.inclusion_proof(index), tree.root()
    assert verify_inclusion(leaves[index], index, len(leaves), proof, tree_root).ok
    assert not verify_inclusion(_flip(leaves[index], bit), index, len(leaves), proof,
                                tree_root).ok
    assert not verify_inclusion(leaves[index], index, len(leaves), proof,
                                _flip(tree_root, bit)).ok
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        broken = [*proof[:at], _flip(proof[at], bit), *proof[at + 1:]]
        assert not verify_inclusion(leaves[index], index, len(leaves), broken, tree_root).ok
        assert not verify_inclusion(leaves[index], index, len(leaves), proof[:-1], tree_root).ok


@PROPERTIES
@given(_trees(), st.integers(0, 255), st.data())
def test_every_consistency_proof_verifies_and_one_bit_breaks_it(
        case: tuple[list[bytes], int, int], bit: int, data: st.DataObject) -> None:
    leaves, _, old_size = case
    tree = MerkleTree(leaves)
    new_size = len(leaves)
    old_root, new_root = tree.root(old_size), tree.root()
    proof = tree.consistency_proof(old_size)
    assert verify_consistency(old_size, new_size, old_root, new_root, proof).ok
    assert not verify_consistency(old_size, new_size, _flip(old_root, bit), new_root, proof).ok
    assert not verify_consistency(old_size, new_size, old_root, _flip(new_root, bit), proof).ok
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        broken = [*proof[:at], _flip(proof[at], bit), *proof[at + 1:]]
        assert not verify_consistency(old_size, new_size, old_root, new_root, broken).ok
        assert not verify_consistency(old_size, new_size, old_root, new_root, [*proof, new_root]).ok


def test_roots_and_paths_agree_with_pymerkle() -> None:
    from pymerkle import InmemoryTree

    other = InmemoryTree(algorithm="sha256")
    entries = [b"jdzhi audit entry %d" % i * (i % 3) for i in range(70)]
    for entry in entries:
        other.append_entry(entry)
    leaves = [leaf_hash(entry) for entry in entries]
    ours = MerkleTree(leaves)
    for size in range(1, len(entries) + 1):
        assert other.get_leaf(size) == leaves[size - 1]
        assert other.get_root(size) == ours.root(size) == root(leaves[:size])
        for index in range(size):
            # pymerkle's path is the leaf itself then the RFC 9162 audit path (1-based indexes)
            assert other.prove_inclusion(index + 1, size).path[1:] == ours.inclusion_proof(
                index, size)
        for old_size in range(1, size + 1):
            proof = ours.consistency_proof(old_size, size)
            assert verify_consistency(old_size, size, other.get_root(old_size),
                                      other.get_root(size), proof).ok


def test_a_big_tree_is_one_tree() -> None:
    leaves = [hashlib.sha256(b"%d" % i).digest() for i in range(65_539)]
    tree = MerkleTree(leaves)
    assert tree.root() == root(leaves)
    assert tree.root(65_536) == root(leaves[:65_536])
    proof = tree.consistency_proof(40_000)
    assert verify_consistency(40_000, 65_539, root(leaves[:40_000]), tree.root(), proof).ok


# --- signed notes ------------------------------------------------------------------------------

def _go_signer() -> Ed25519NoteSigner:
    seed = _b64(GO["peter_skey"].split("+", 4)[4])[1:]
    return Ed25519NoteSigner("PeterNeumann", _secret(seed))


def _go_verifier(which: str = "peter") -> Ed25519NoteVerifier:
    return Ed25519NoteVerifier(VerifierKey.parse(GO[f"{which}_vkey"]))


def test_signing_gives_gos_signed_note() -> None:
    signer = _go_signer()
    assert signer.key.vkey() == GO["peter_vkey"]
    assert signer.key.key_id == 0xC74F20A3
    assert sign_note(GO["text"], signer).encode() == GO["signed_by_peter"].encode()
    # a signature from the same key is replaced, not repeated
    stale = Note(GO["text"], (NoteSignature("PeterNeumann", 0xC74F20A3, b"stale"),))
    assert sign_note(stale, signer).encode() == GO["signed_by_peter"].encode()


def test_the_key_id_is_the_specs_hash() -> None:
    key = VerifierKey.parse(GO["enoch_vkey"])
    material = b"EnochRoot\n\x01" + key.public_key
    assert key.key_id == int.from_bytes(hashlib.sha256(material).digest()[:4], "big")
    assert key.key_id == 0xAF0CFE78 and key.vkey() == GO["enoch_vkey"]


def test_gos_notes_open_as_go_opens_them() -> None:
    both = (GO["text"] + "\n" + GO["peter_signature_line"] + GO["enoch_signature_line"]).encode()
    note = parse_note(both)
    assert note.text == GO["text"] and note.encode() == both
    peter_only = verify_note(note, [_go_verifier()])
    assert peter_only.ok
    assert [s.name for s in peter_only.verified] == ["PeterNeumann"]
    assert [s.name for s in peter_only.unknown] == ["EnochRoot"]
    assert [s.name for s in verify_note(note, [_go_verifier(), _go_verifier("enoch")]).verified
            ] == ["PeterNeumann", "EnochRoot"]
    nobody = verify_note(note, [])
    assert nobody.failure == "no-known-signature" and len(nobody.unknown) == 2
    with pytest.raises(InvalidInput, match="two verifier keys"):
        verify_note(note, [_go_verifier("enoch"), _go_verifier(), _go_verifier("enoch")])
    # same name or same key ID as a known key, but not both: another key, ignored
    peter = note.signatures[0]
    lookalikes = Note(note.text, (
        peter, NoteSignature("PeterNeumann", peter.key_id ^ 1, bytes(64)),
        NoteSignature("PeterNeumann2", peter.key_id, bytes(64))))
    lookalike_check = verify_note(lookalikes, [_go_verifier()])
    assert lookalike_check.ok and len(lookalike_check.unknown) == 2
    line = GO["peter_signature_line"]
    forged = parse_note((GO["text"] + "\n" + line[:60] + "ABCD" + line[60:]).encode())
    assert verify_note(forged, [_go_verifier()]).failure == "bad-signature"


def test_gos_malformed_notes_are_refused() -> None:
    for message in [*(m.encode() for m in GO["malformed_notes"]),
                    bytes.fromhex(GO["malformed_note_not_utf8_hex"])]:
        with pytest.raises(MalformedNote):
            parse_note(message)
    too_many = GO["text"] + "\n" + GO["peter_signature_line"] * (MAX_SIGNATURES + 1)
    with pytest.raises(MalformedNote, match="more than 100"):
        parse_note(too_many.encode())
    assert len(parse_note((GO["text"] + "\n" + GO["peter_signature_line"] * 16).encode())
               .signatures) == 16


def test_gos_bad_verifier_keys_and_every_mangling_are_refused() -> None:
    for vkey in GO["bad_vkeys"]:
        with pytest.raises(MalformedNote):
            VerifierKey.parse(vkey)
    vkey = GO["peter_vkey"]
    manglings = {vkey[i:j] for i in range(len(vkey)) for j in range(i + 1, len(vkey) + 1)}
    manglings |= {vkey[:i] + chr(ord(vkey[i]) + 1) + vkey[i + 1:] for i in range(len(vkey))}
    manglings.discard(vkey)
    for mangled in manglings:
        with pytest.raises(MalformedNote):
            VerifierKey.parse(mangled)


def test_the_specs_example_note_verifies_and_a_changed_one_does_not() -> None:
    verifier = Ed25519NoteVerifier(VerifierKey.parse(C2SP["signed_note_vkey"]))
    note = parse_note(C2SP["signed_note"].encode())
    assert verify_note(note, [verifier]).ok
    changed = Note(note.text.replace("example", "exemplary"), note.signatures)
    assert verify_note(changed, [verifier]).failure == "bad-signature"


def test_key_names_follow_the_spec() -> None:
    for name in ("", "a+b", "a b", "a\u3000b", "a\u00a0b", "a\tb", "a\x01b"):
        with pytest.raises(MalformedNote):
            NoteSignature(name, 1, b"signature")
    assert NoteSignature("jdzhi/景德镇制", 1, b"x").line().startswith("— jdzhi/景德镇制 ")


def test_note_texts_follow_the_spec() -> None:
    for text in ("no final newline", "tab\there\n", "nul\x00\n", "lone \udc80 surrogate\n"):
        with pytest.raises(MalformedNote):
            Note(text)
    with pytest.raises(MalformedNote, match="not base64"):
        parse_note(b"text\n\n\xe2\x80\x94 name AAAAAA==\n")  # nothing after the key ID
    with pytest.raises(MalformedNote, match="not base64"):
        parse_note(b"text\n\n\xe2\x80\x94 name AAAAAAB=\n")  # non-canonical padding bits


_TEXTS = st.text(st.characters(min_codepoint=0x20, exclude_categories=("Cs",)) | st.just("\n"),
                 max_size=60).map(lambda t: t + "\n")
_NAMES = st.text(st.characters(min_codepoint=0x21, exclude_categories=("Cs", "Zs", "Zl", "Zp"),
                               exclude_characters="+\x85"), min_size=1, max_size=20)


@PROPERTIES
@given(_TEXTS, st.lists(st.tuples(_NAMES, st.integers(0, 2**32 - 1), st.binary(min_size=1,
                                                                               max_size=80)),
                        min_size=1, max_size=5))
def test_notes_read_back_as_written(text: str, lines: list[tuple[str, int, bytes]]) -> None:
    note = Note(text, tuple(NoteSignature(*line) for line in lines))
    assert parse_note(note.encode()) == note


def test_small_order_keys_and_points_are_refused() -> None:
    # A = identity and R = identity, S = 0 satisfy [S]B = R + [k]A for every message: a
    # verifier that lets small-order points through accepts this "signature" of anything
    identity = bytes([1]) + bytes(31)
    forged = identity + bytes(32)
    assert not ed25519.verify(identity, forged, b"any text\n")
    order_two = bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
    assert not ed25519.verify(order_two, identity + bytes(32), b"any text\n")
    key = VerifierKey("jdzhi/forger", SignatureType.ED25519, identity)
    note = Note("jdzhi/registry\n1\n" + base64.b64encode(ROOTS[1]).decode() + "\n",
                (NoteSignature(key.name, key.key_id, forged),))
    assert verify_note(note, [Ed25519NoteVerifier(key)]).failure == "bad-signature"
    witness = VerifierKey("jdzhi/forger", SignatureType.COSIGNATURE_V1, identity)
    cosigned = Note(note.text, (NoteSignature(witness.name, witness.key_id,
                                              (1679315147).to_bytes(8, "big") + forged),))
    assert verify_note(cosigned, [CosignatureVerifier(witness)]).failure == "bad-signature"


# --- checkpoints and cosignatures ---------------------------------------------------------------

def test_gos_checkpoint_reads_and_writes_back() -> None:
    checkpoint = parse_checkpoint(GO["tree_checkpoint"])
    assert checkpoint == Checkpoint("go.sum database tree", 123456789012,
                                    leaf_hash(b"hello world"))
    assert checkpoint.text() == GO["tree_checkpoint"]
    for bad in GO["bad_tree_checkpoints"]:
        with pytest.raises(MalformedCheckpoint):
            parse_checkpoint(bad)


def test_checkpoint_bodies_are_read_strictly() -> None:
    root_line = base64.b64encode(ROOTS[5]).decode()
    assert parse_checkpoint(f"jdzhi/registry\n0\n{root_line}\n").size == 0
    assert parse_checkpoint(f"o\n5\n{root_line}\next one\next two\n").extensions == (
        "ext one", "ext two")
    assert parse_checkpoint(f"o\n{2**63 - 1}\n{root_line}\n").size == 2**63 - 1
    for bad in (f"o\n05\n{root_line}\n", f"o\n+5\n{root_line}\n", f"o\n 5\n{root_line}\n",
                f"o\n٥\n{root_line}\n", f"o\n{2**63}\n{root_line}\n", f"o\n5\n{root_line}",
                f"\n5\n{root_line}\n", f"o\n5\n{root_line}\n\n", "o\n5\n",
                f"o\n5\n{base64.b64encode(ROOTS[5][:31]).decode()}\n",
                f"o\n5\n{root_line[:-2]}x=\n", f"o\n5\n{root_line[:-1]}\n"):
        with pytest.raises(MalformedCheckpoint):
            parse_checkpoint(bad)


def test_the_specs_cosigned_checkpoint_reads() -> None:
    note = parse_note(C2SP["cosigned_checkpoint"].encode())
    checkpoint = parse_checkpoint(note.text)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    cosignature = cosignature_of(note.signatures[1])
    assert cosignature.timestamp == C2SP["cosignature_time"]
    assert signed_message(cosignature.timestamp, note.text.encode()).decode() == C2SP[
        "cosignature_signed_message"]


def test_a_cosignature_is_the_specs_layout() -> None:
    secret = _secret(_seed("witness"))
    cosigner = Cosigner("jdzhi.example/witness", secret, C2SP["cosignature_time"])
    text = C2SP["cosignature_signed_message"].split("\n", 2)[2]
    line = sign_note(text, cosigner).signatures[0]
    public_key = secret[32:]
    assert line.key_id == int.from_bytes(hashlib.sha256(
        b"jdzhi.example/witness\n\x04" + public_key).digest()[:4], "big")
    assert line.signature[:8] == bytes.fromhex("000000006418 50cb".replace(" ", ""))
    assert ed25519.verify(public_key, line.signature[8:],
                          C2SP["cosignature_signed_message"].encode())
    assert cosigner.key.vkey().split("+", 2)[2] == base64.b64encode(b"\x04" + public_key).decode()
    with pytest.raises(InvalidInput):
        Cosigner("w", secret, -1)
    with pytest.raises(InvalidInput):
        Cosigner("w", secret, 2**63)


ORIGIN = "jdzhi/registry.example"


def _signed_checkpoint(size: int = 5, timestamps: tuple[int, ...] = (1767225600, 1767225601)
                       ) -> tuple[bytes, VerifierKey, list[VerifierKey]]:
    checkpoint = Checkpoint(ORIGIN, size, ROOTS[size])
    log = Ed25519NoteSigner(ORIGIN, _secret(_seed("log")))
    witnesses = [Cosigner(f"witness{i}.example", _secret(_seed(f"witness {i}")), at)
                 for i, at in enumerate(timestamps)]
    note = sign_note(sign_note(checkpoint.text(), log), *witnesses)
    return note.encode(), log.key, [w.key for w in witnesses]


def test_a_checkpoint_opens_with_its_cosignatures() -> None:
    data, log_key, witness_keys = _signed_checkpoint()
    opened = open_checkpoint(data, origin=ORIGIN, log_key=log_key, witness_keys=witness_keys)
    assert opened.checkpoint == Checkpoint(ORIGIN, 5, ROOTS[5])
    assert [(c.name, c.timestamp) for c in opened.cosignatures] == [
        ("witness0.example", 1767225600), ("witness1.example", 1767225601)]
    # a witness nobody configured is ignored, as the spec says
    alone = open_checkpoint(data, origin=ORIGIN, log_key=log_key, witness_keys=witness_keys[1:])
    assert [c.name for c in alone.cosignatures] == ["witness1.example"]


def test_a_checkpoint_that_fails_is_refused() -> None:
    data, log_key, witness_keys = _signed_checkpoint()
    with pytest.raises(IntegrityError, match="not 'jdzhi/other'"):
        open_checkpoint(data, origin="jdzhi/other", log_key=log_key)
    with pytest.raises(IntegrityError, match="no signature by the log's key"):
        open_checkpoint(data, origin=ORIGIN, log_key=VerifierKey(ORIGIN, SignatureType.ED25519,
                                                                witness_keys[0].public_key),
                        witness_keys=witness_keys)
    grown = data.replace(b"\n5\n", b"\n6\n", 1)
    with pytest.raises(IntegrityError, match="does not verify"):
        open_checkpoint(grown, origin=ORIGIN, log_key=log_key)
    note = parse_note(data)
    bad_witness = NoteSignature(note.signatures[2].name, note.signatures[2].key_id,
                                _flip(note.signatures[2].signature, 100))
    tampered = Note(note.text, (*note.signatures[:2], bad_witness)).encode()
    open_checkpoint(tampered, origin=ORIGIN, log_key=log_key, witness_keys=witness_keys[:1])
    with pytest.raises(IntegrityError, match=r"witness1\.example"):
        open_checkpoint(tampered, origin=ORIGIN, log_key=log_key, witness_keys=witness_keys)
    with pytest.raises(InvalidInput):
        open_checkpoint(b"not a note", origin=ORIGIN, log_key=log_key)


def test_a_note_signature_is_no_cosignature_and_back() -> None:
    secret = _secret(_seed("one key"))
    plain = sign_note(Checkpoint(ORIGIN, 1, ROOTS[1]).text(), Ed25519NoteSigner("k", secret))
    as_witness = VerifierKey.of_secret("k", SignatureType.COSIGNATURE_V1, secret)
    assert verify_note(plain, [CosignatureVerifier(as_witness)]).failure == "no-known-signature"
    with pytest.raises(InvalidInput):
        CosignatureVerifier(VerifierKey.of_secret("k", SignatureType.ED25519, secret))
    with pytest.raises(InvalidInput):
        Ed25519NoteVerifier(as_witness)
    future = NoteSignature("k", as_witness.key_id, (2**63).to_bytes(8, "big") + bytes(64))
    assert not CosignatureVerifier(as_witness).verify(plain.text.encode(), future.signature)
    with pytest.raises(InvalidInput, match="2\\*\\*63"):
        cosignature_of(future)


# --- the leaf data that docs/format.md specifies -------------------------------------------------

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
                  "\f": "\\f"}
_LEAF_FIELDS = ("action", "actor", "after_digest", "at", "before_digest", "details", "entity",
                "prev_hash", "seq")


def _documented_json(value: object) -> str:
    """A JSON value written by the rules of docs/format.md (not by jdzhi's own code)."""
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    assert isinstance(value, str)
    return '"' + "".join(_SHORT_ESCAPES.get(c) or (f"\\u{ord(c):04x}" if c < " " else c)
                         for c in value) + '"'


def test_the_documented_leaf_data_hashes_to_each_audit_entrys_hash(initialized: Any) -> None:
    from jdzhi.registry import audit
    from jdzhi.registry.db import open_registry, transaction
    from jdzhi.registry.db import rows as db_rows

    db = open_registry(initialized)
    with transaction(db):
        audit.append(db, action="note", entity="景德镇:\"quoted\"\\", before=None,
                     after={"name": "青花\n瓷\x01\t"},
                     details={"why": "控制 \x1f, \b\f\r and \u2028", "n": 7})
    rows = db_rows(db, "SELECT * FROM audit_log ORDER BY seq")
    assert rows
    leaves = []
    for row in rows:
        text = "{" + ",".join(f'"{name}":{_documented_json(row[name])}'
                              for name in _LEAF_FIELDS) + "}"
        assert hashlib.sha256(text.encode("utf-8")).hexdigest() == row["hash"]
        leaves.append(leaf_hash(text.encode("utf-8")))
    tree = MerkleTree(leaves)
    last = len(leaves) - 1
    assert verify_inclusion(leaves[last], last, len(leaves), tree.inclusion_proof(last),
                            root(leaves)).ok
