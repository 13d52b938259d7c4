"""Key certificates (docs/format.md): the authority's COSE_Sign1 statement that a public key
belongs to an enterprise or testing center for a window of time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from jdzhi.trace.formats.common import CONTENT_TYPES, FORMAT_VERSION, authority_kid, external_aad

__all__ = [
    "CertFields",
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
    from jdzhi.trace.formats.cose import dumps, sign1

    return sign1(content_type=CONTENT_TYPES["cert"], kid=authority_kid(authority_public_key),
                 payload=dumps(fields.to_cbor_map()), external_aad=external_aad("cert"),
                 sign=sign)
