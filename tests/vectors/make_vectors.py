"""Generate tests/vectors/format-v1.json: known answers for docs/format.md, version 1.

Provenance: every value below is computed by jdzhi's own implementation from fixed inputs; the
keys are the RFC 8032 §7.1 test secrets (TEST 1 = licensee key 7, TEST 2 = authority, TEST 3 =
a key the authority never certified, signing as key id 9), so that anyone can rebuild the same
bytes (Ed25519 is deterministic).
tests/test_format.py recomputes this file and checks every verdict case against jdzhi's
verifier; tests/test_vectors_independent.py checks the bytes with other implementations;
tests/vectors/README.md records each vector's source. Regenerate with:
.venv/bin/python tests/vectors/make_vectors.py
"""

from __future__ import annotations

import json
import sys
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
from jdzhi.trace.keys.keyfile import from_seed
from jdzhi.trace.trust.bundle import bundle_payload
from jdzhi.trace.trust.model import (
    LicenseStatusEvent,
    Trust,
    TrustedCategory,
    TrustedEnterprise,
    TrustedKey,
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
    }


def main() -> None:
    OUT.write_text(json.dumps(build(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
