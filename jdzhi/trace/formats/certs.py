"""Key certificates (docs/format.md): the authority's COSE_Sign1 statement that a public key
belongs to an enterprise or testing center for a window of time.

A certificate, not the registry row beside it, is what makes a key trusted: whoever can write the
database can add a row, but only the holder of the authority key can sign a certificate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from jdzhi.trace.ed25519 import PUBLIC_KEY_LENGTH, has_small_order
from jdzhi.trace.formats.common import (
    CONTENT_TYPES,
    FORMAT_VERSION,
    FormatError,
    authority_kid,
    external_aad,
)

__all__ = [
    "CertFields",
    "certificate_problem",
    "sign_cert",
]


@dataclass(frozen=True)
class CertFields:
    key_id: int
    public_key: bytes
    role: str
    not_before: int
    not_after: int
    enterprise_id: int | None = None
    license_id: int | None = None
    lab_id: int | None = None

    def to_cbor_map(self) -> dict[str, object]:
        data: dict[str, object] = {"v": FORMAT_VERSION, "k": self.key_id, "pk": self.public_key,
                                   "role": self.role, "nb": self.not_before,
                                   "na": self.not_after}
        if self.role == "licensee":
            data["e"], data["l"] = self.enterprise_id, self.license_id
        else:
            data["lab"] = self.lab_id
        return data


def sign_cert(fields: CertFields, authority_public_key: bytes,
              sign: Callable[[bytes], bytes]) -> bytes:
    """The authority's certificate of a key; FormatError for a key no verifier may accept."""
    from jdzhi.trace.formats.cose import dumps, sign1

    if len(fields.public_key) != PUBLIC_KEY_LENGTH or has_small_order(fields.public_key):
        raise FormatError(f"key {fields.key_id}'s public key is not a usable Ed25519 key "
                          "(small order or wrong length): the authority never certifies one")
    return sign1(content_type=CONTENT_TYPES["cert"], kid=authority_kid(authority_public_key),
                 payload=dumps(fields.to_cbor_map()), external_aad=external_aad("cert"),
                 sign=sign)


def certificate_problem(certificate: bytes, expected: CertFields,
                        authority_public_key: bytes) -> str | None:
    """Why ``certificate`` does not vouch for the key ``expected`` describes (a phrase that
    follows "the certificate"), or None when it does: a canonical certificate signed by the
    authority key whose payload holds exactly the fields of ``expected``."""
    from jdzhi.trace.formats.cose import CoseError, decode_sign1, loads_canonical, verify_sign1

    try:
        message = decode_sign1(certificate, what="certificate")
    except CoseError:
        return "is not a certificate (damaged or made up)"
    if (message.content_type != CONTENT_TYPES["cert"]
            or message.kid != authority_kid(authority_public_key)
            or not verify_sign1(message, authority_public_key, external_aad("cert"))):
        return "is not signed by the authority"
    try:
        payload = loads_canonical(message.payload, what="certificate payload")
    except CoseError:
        return "has a damaged payload"
    wanted = expected.to_cbor_map()
    if has_small_order(expected.public_key):
        return "certifies a small-order public key, which nothing may trust"
    if not isinstance(payload, dict):
        return "has a damaged payload"
    differing = sorted(name for name in wanted.keys() | payload.keys()
                       if type(payload.get(name)) is not type(wanted.get(name))
                       or payload.get(name) != wanted.get(name))
    if differing:
        return f"certifies other values of {', '.join(differing)} than the registry holds"
    return None
