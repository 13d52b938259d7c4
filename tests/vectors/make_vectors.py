"""Generate tests/vectors/format-v1.json: known answers for docs/format.md, version 1.

Provenance: every value below is computed by jdzhi's own implementation from fixed inputs; the
keys are the RFC 8032 §7.1 test secrets (TEST 1 = licensee key 7, TEST 2 = authority, TEST 3 =
a key the authority never certified, signing as key id 9), so that anyone can rebuild the same
bytes (Ed25519 is deterministic). The keys of the wider bundle (`more`) are seeded with
SHA-256 of their names (``seed_of``), equally rebuildable.
tests/test_format.py recomputes this file and checks every verdict case against jdzhi's
verifier; tests/test_vectors_independent.py checks the bytes with other implementations;
tests/vectors/README.md records each vector's source. Regenerate with:
.venv/bin/python tests/vectors/make_vectors.py
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from jdzhi.trace.formats.base32 import base32_encode
from jdzhi.trace.formats.certs import CertFields, sign_cert
from jdzhi.trace.formats.common import CONTENT_TYPES, authority_kid, external_aad, key_kid
from jdzhi.trace.formats.cose import dumps, protected_header, sig_structure, sign1
from jdzhi.trace.formats.labels import DEFAULT_BASE_URL, Label, LabelFields
from jdzhi.trace.formats.records import RecordFields, base64url, record_payload, sign_record
from jdzhi.trace.keys.keyfile import SigningKey, from_seed
from jdzhi.trace.trust.bundle import bundle_payload
from jdzhi.trace.trust.model import (
    Endorsement,
    LicenseStatusEvent,
    ReleaseResult,
    Trust,
    TrustedCategory,
    TrustedEnterprise,
    TrustedKey,
    TrustedLab,
    TrustedLicense,
)

OUT = Path(__file__).with_name("format-v1.json")
LICENSEE_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
AUTHORITY_SEED = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
OTHER_SEED = bytes.fromhex("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7")


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def build() -> dict[str, Any]:
    licensee, authority, other = (from_seed(LICENSEE_SEED), from_seed(AUTHORITY_SEED),
                                  from_seed(OTHER_SEED))
    base = DEFAULT_BASE_URL
    fields = RecordFields(
        key_id=7, serial=2026000123, signed_at=ts("2026-01-15T02:30:00"), category=1,
        enterprise_id=1, batch="B2026-01", category_code="qinghua",
        production_date=date(2026, 1, 14), name="青花缠枝莲纹碗 bowl", ware_class="small-hollow",
    )
    signed = sign_record(fields, licensee.sign)
    label_fields = fields.label_fields
    protected = protected_header(CONTENT_TYPES["record"], key_kid(7))
    payload = record_payload(fields)

    cert_fields = CertFields(key_id=7, public_key=licensee.public_key, role="licensee",
                             not_before=ts("2025-12-01T00:00:00"),
                             not_after=ts("2028-12-01T00:00:00"), enterprise_id=1, license_id=1)
    cert = sign_cert(cert_fields, authority.public_key, authority.sign)

    trust = Trust(
        source="vectors", authority_public_key=authority.public_key, bases=(base,),
        keys={7: TrustedKey(7, licensee.public_key, "licensee", cert_fields.not_before,
                            cert_fields.not_after, enterprise_id=1, license_id=1)},
        enterprises={1: TrustedEnterprise(1, "景德镇市青云陶瓷有限公司", "青云陶瓷",
                                          "91360203MAPBRNYT6C")},
        licenses={1: TrustedLicense(
            id=1, enterprise_id=1, license_no="JDZ-GI-2025-0001", valid_from=date(2025, 1, 1),
            categories=frozenset({1, 3}),
            events=(LicenseStatusEvent("active", ts("2025-01-01T00:00:00"), "licensed",
                                       date(2029, 12, 31)),
                    LicenseStatusEvent("revoked", ts("2026-06-01T00:00:00"),
                                       "counterfeit glaze marks found")),
        )},
        categories={1: TrustedCategory(1, "qinghua", "青花", "blue-and-white"),
                    3: TrustedCategory(3, "fencai", "粉彩", "famille-rose")},
        labs={}, endorsements=(), issued_at=ts("2026-07-01T00:00:00"),
        expires_at=ts("2026-08-01T00:00:00"),
    )
    bundle = sign1(
        content_type=CONTENT_TYPES["bundle"], kid=authority_kid(authority.public_key),
        payload=dumps(bundle_payload(trust, issued_at=trust.issued_at,
                                     expires_at=trust.expires_at or 0)),
        external_aad=external_aad("bundle"), sign=authority.sign,
    )

    def label_text(key: Any, key_id: int, serial: int, when: str, category: int = 1) -> str:
        lf = LabelFields(key_id, serial, ts(when), category)
        return Label(lf, key.sign(lf.signing_input())).text(base)

    genuine = signed.label.text(base)
    tampered = genuine[:-10] + ("A" if genuine[-10] != "A" else "B") + genuine[-9:]
    now = "2026-07-02T00:00:00Z"
    cases = [
        {"name": "signed before the revocation: genuine (with a reason)", "label": genuine,
         "now": now, "verdict": "genuine"},
        {"name": "signed after the revocation took effect", "now": now, "verdict": "revoked",
         "label": label_text(licensee, 7, 2026000999, "2026-06-02T00:00:00")},
        {"name": "one character changed", "label": tampered, "now": now,
         "verdict": "tampered"},
        {"name": "a key the authority never certified", "now": now, "verdict": "unknown-key",
         "label": label_text(other, 9, 5, "2026-01-15T00:00:00")},
        {"name": "category not covered by the license", "now": now, "verdict": "unknown-key",
         "label": label_text(licensee, 7, 6, "2026-01-15T00:00:00", category=2)},
        {"name": "lowercase text", "label": genuine.lower(), "now": now,
         "verdict": "malformed"},
        {"name": "signed after the key's window", "now": "2029-01-02T00:00:00Z",
         "verdict": "expired", "label": label_text(licensee, 7, 8, "2028-12-02T00:00:00")},
    ]
    return {
        "about": "jdzhi signed formats, version 1: known answers (see docs/format.md). Made by "
                 "tests/vectors/make_vectors.py from RFC 8032 §7.1 test secrets.",
        "keys": {
            "licensee_seed": LICENSEE_SEED.hex(), "licensee_public": licensee.public_key.hex(),
            "licensee_key_id": 7,
            "authority_seed": AUTHORITY_SEED.hex(), "authority_public": authority.public_key.hex(),
            "authority_kid": authority_kid(authority.public_key).hex(),
            "uncertified_seed": OTHER_SEED.hex(),
        },
        "label": {
            "fields": {"key_id": 7, "serial": 2026000123, "signed_at": label_fields.signed_at,
                       "category": 1},
            "header_hex": label_fields.header().hex(),
            "signing_input_hex": label_fields.signing_input().hex(),
            "signature_hex": signed.label.signature.hex(),
            "payload_hex": signed.label.payload().hex(),
            "payload_base32": base32_encode(signed.label.payload()),
            "base": base,
            "text": genuine,
        },
        "record": {
            "payload_cbor_hex": payload.hex(),
            "protected_hex": protected.hex(),
            "external_aad": external_aad("record").decode(),
            "sig_structure_hex": sig_structure(protected, external_aad("record"), payload).hex(),
            "cose_sign1_hex": signed.record.hex(),
            "base64url": base64url(signed.record),
        },
        "certificate": {"cose_sign1_hex": cert.hex()},
        "bundle": {"cose_sign1_hex": bundle.hex()},
        "verdict_cases": cases,
        **settled(trust, authority, licensee, fields),
    }


def seed_of(name: str) -> bytes:
    return hashlib.sha256(f"jdzhi format-v1 vectors: {name}".encode()).digest()


def signed_bundle(payload: dict[str, Any], authority: SigningKey) -> str:
    return sign1(content_type=CONTENT_TYPES["bundle"], kid=authority_kid(authority.public_key),
                 payload=dumps(payload), external_aad=external_aad("bundle"),
                 sign=authority.sign).hex()


def wider_trust(trust: Trust, keys: dict[str, SigningKey]) -> Trust:
    """The vector bundle's trust with a lab key and its endorsement, a key that a rotation
    replaced and an enterprise whose license is suspended."""
    lab, replaced, suspended = keys["lab"], keys["replaced"], keys["suspended"]
    window = (ts("2025-12-01T00:00:00"), ts("2028-12-01T00:00:00"))
    endorsement = Endorsement(
        lab_id=1, key_id=8, enterprise_id=1, batch="B2026-01",
        serial_ranges=((2026000100, 2026000199),), outcome="pass",
        results=(ReleaseResult("small-hollow", "mg/L", 150, 20, 2000, 300),),
        optional={"ts": 1, "wa": 300}, standard="GB 4806.4-2016", report_no="JDZT-2026-0042",
        tested_at=ts("2026-01-20T00:00:00"), signed_at=ts("2026-01-21T00:00:00"))
    from jdzhi.trace.endorsements.lab import endorsement_payload

    message = sign1(content_type=CONTENT_TYPES["endorsement"], kid=key_kid(8),
                    payload=dumps(endorsement_payload(endorsement, 500)),
                    external_aad=external_aad("endorsement"), sign=lab.sign)
    return replace(
        trust,
        keys={**trust.keys,
              8: TrustedKey(8, lab.public_key, "lab", *window, lab_id=1),
              11: TrustedKey(11, replaced.public_key, "licensee", *window, enterprise_id=1,
                             license_id=1, ended_at=ts("2026-03-01T00:00:00"),
                             end_kind="superseded", end_reason="replaced by a rotation"),
              12: TrustedKey(12, suspended.public_key, "licensee", *window, enterprise_id=2,
                             license_id=2)},
        enterprises={**trust.enterprises, 2: TrustedEnterprise(
            2, "景德镇市瑶里窑业有限公司", "瑶里窑业", "91360203MA35XKQ21T")},
        licenses={**trust.licenses, 2: TrustedLicense(
            id=2, enterprise_id=2, license_no="JDZ-GI-2025-0002", valid_from=date(2025, 1, 1),
            categories=frozenset({1}),
            events=(LicenseStatusEvent("active", ts("2025-01-01T00:00:00"), "licensed",
                                       date(2029, 12, 31)),
                    LicenseStatusEvent("suspended", ts("2026-02-01T00:00:00"),
                                       "kiln inspection pending")))},
        labs={1: TrustedLab(1, "景德镇陶瓷检测中心 (sample)", "CNAS L0000 (sample)")},
        endorsements=(replace(endorsement, message=message),),
    )


def bundle_cases(trust: Trust, authority: SigningKey) -> list[dict[str, Any]]:
    """Bundles signed by the authority that a verifier MUST refuse, each one change away from a
    good one (docs/format.md, "Trust bundle")."""
    def payload() -> dict[str, Any]:
        return bundle_payload(trust, issued_at=trust.issued_at, expires_at=trust.expires_at or 0)

    def case(name: str, change: Any) -> dict[str, Any]:
        data = payload()
        change(data)
        return {"name": name, "accepted": False, "cose_sign1_hex": signed_bundle(data, authority)}

    def key(data: dict[str, Any], key_id: int) -> dict[str, Any]:
        return next(item for item in data["keys"] if item["k"] == key_id)

    def bad_endorsement(data: dict[str, Any]) -> None:
        message = bytearray(data["ends"][0])
        message[-1] ^= 1
        data["ends"] = [bytes(message)]

    return [
        {"name": "the good bundle", "accepted": True,
         "cose_sign1_hex": signed_bundle(payload(), authority)},
        case("an unknown top-level key", lambda d: d.update(note="hello")),
        case("a required key missing (labs)", lambda d: d.pop("labs")),
        case("an unknown key in a key entry", lambda d: key(d, 7).update(x=1)),
        case("an unknown license status in ev", lambda d: d["lics"][0]["ev"][1].update(
            s="paused")),
        case("an unknown kind of key end", lambda d: key(d, 11)["end"].update(kind="lost")),
        case("ev out of effective order", lambda d: d["lics"][0]["ev"].reverse()),
        case("a licensee key whose license is not in lics", lambda d: d["lics"].pop()),
        case("a small-order public key", lambda d: key(d, 12).update(
            pk=bytes([1]) + bytes(31))),
        case("key id 0", lambda d: key(d, 12).update(k=0)),
        case("a negative time", lambda d: d.update(iat=-1)),
        case("text where an integer belongs", lambda d: key(d, 7).update(nb="0")),
        case("category code 256", lambda d: d["cats"][0].update(c=256)),
        case("one endorsement whose lab signature fails", bad_endorsement),
    ]


def record_cases(licensee: SigningKey, fields: RecordFields) -> list[dict[str, Any]]:
    """Records validly signed by key 7 that break a field rule: each is ``malformed``."""
    def signed(data: dict[str, Any]) -> str:
        return sign1(content_type=CONTENT_TYPES["record"], kid=key_kid(7), payload=dumps(data),
                     external_aad=external_aad("record"), sign=licensee.sign).hex()

    good = fields.to_cbor_map()
    return [
        {"name": "ware class outside the closed list", "verdict": "malformed",
         "cose_sign1_hex": signed({**good, "w": "bowl"})},
        {"name": "cat contradicts the category of c", "verdict": "malformed",
         "cose_sign1_hex": signed({**good, "cat": "fencai"})},
        {"name": "a negative enterprise id", "verdict": "malformed",
         "cose_sign1_hex": signed({**good, "e": -1})},
        {"name": "an unknown key", "verdict": "malformed",
         "cose_sign1_hex": signed({**good, "x": "extra"})},
    ]


def jsonl_cases(licensee: SigningKey, fields: RecordFields) -> list[dict[str, Any]]:
    """SIGNED.jsonl lines and their verdicts (docs/format.md, "SIGNED.jsonl")."""
    def line(record: RecordFields, label_of: RecordFields, serial: str | None = None) -> str:
        signed, other = sign_record(record, licensee.sign), sign_record(label_of, licensee.sign)
        return json.dumps({"serial": serial or str(record.serial),
                           "record": base64url(signed.record),
                           "label": other.label.text(DEFAULT_BASE_URL)})

    later = replace(fields, serial=2026000124)
    revoked = replace(fields, serial=2026000125, signed_at=ts("2026-06-02T00:00:00"))
    bad_label = json.loads(line(fields, fields))
    bad_label["label"] = bad_label["label"][:-3] + ("A" if bad_label["label"][-3] != "A"
                                                   else "B") + bad_label["label"][-2:]
    return [
        {"name": "record and label agree", "verdict": "genuine", "line": line(fields, fields)},
        {"name": "the label of another record", "verdict": "tampered",
         "line": line(fields, later)},
        {"name": "a genuine record beside a changed label: the label's verdict",
         "verdict": "tampered", "line": json.dumps(bad_label)},
        {"name": "a revoked record beside the label of a genuine one: they disagree",
         "verdict": "tampered", "line": line(revoked, fields)},
        {"name": "the line's serial is not the record's", "verdict": "tampered",
         "line": line(fields, fields, serial="2026000999")},
        {"name": "a revoked record with its own label", "verdict": "revoked",
         "line": line(revoked, revoked)},
    ]


def _spare_bits_set(text: str) -> str:
    """The same 32 bytes with the last character's 2 spare bits set: not the canonical text."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return text[:-1] + alphabet[alphabet.index(text[-1]) | 1]


def settled(trust: Trust, authority: SigningKey, licensee: SigningKey,
            fields: RecordFields) -> dict[str, Any]:
    """The vectors of the rules settled after an independent verifier found the spec silent."""
    keys = {name: from_seed(seed_of(name)) for name in ("lab", "replaced", "suspended")}
    wider = wider_trust(trust, keys)
    now = "2026-07-02T00:00:00Z"

    def label(key: str, key_id: int, serial: int, when: str) -> str:
        lf = LabelFields(key_id, serial, ts(when), 1)
        return Label(lf, keys[key].sign(lf.signing_input())).text(DEFAULT_BASE_URL)

    identity = bytes([1]) + bytes(31)
    return {
        "more": {
            "seeds": {name: seed_of(name).hex() for name in keys},
            "bundle_cose_sign1_hex": signed_bundle(bundle_payload(
                wider, issued_at=wider.issued_at, expires_at=wider.expires_at or 0), authority),
            "verdict_cases": [
                {"name": "a label signed by a lab key", "now": now, "verdict": "unknown-key",
                 "label": label("lab", 8, 5, "2026-01-15T00:00:00")},
                {"name": "signed by a replaced key before its end", "now": now,
                 "verdict": "genuine", "label": label("replaced", 11, 6, "2026-02-01T00:00:00")},
                {"name": "signed by a replaced key after its end", "now": now,
                 "verdict": "expired", "label": label("replaced", 11, 7, "2026-03-02T00:00:00")},
                {"name": "signed while the license was suspended", "now": now,
                 "verdict": "suspended",
                 "label": label("suspended", 12, 8, "2026-02-02T00:00:00")},
                {"name": "signed before the suspension", "now": now, "verdict": "genuine",
                 "label": label("suspended", 12, 9, "2026-01-15T00:00:00")},
            ],
            "endorsed_serial": fields.serial,
        },
        "bundle_cases": bundle_cases(wider, authority),
        "record_cases": record_cases(licensee, fields),
        "signed_jsonl_cases": jsonl_cases(licensee, fields),
        "authority_key_text": {
            "base64url": base64url(authority.public_key),
            "hex": authority.public_key.hex(),
            "refused": [_spare_bits_set(base64url(authority.public_key)),
                        base64url(authority.public_key) + "=",
                        base64url(authority.public_key)[:-1]],
        },
        "small_order_forgery": {
            "about": "R = identity, S = 0 under the identity point as public key: verifiers "
                     "MUST reject (lenient ones, e.g. OpenSSL, accept)",
            "public_key_hex": identity.hex(), "signature_hex": (identity + bytes(32)).hex(),
            "message_hex": fields.label_fields.signing_input().hex(), "valid": False,
        },
    }


def main() -> None:
    OUT.write_text(json.dumps(build(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
