"""Ed25519 (RFC 8032) through ``cryptography``: raw keys in, booleans out, keys cached.

Everything jdzhi signs is Ed25519; public keys travel as their raw 32 bytes. Parsing a public key
costs about as much as a verification, so parsed keys are cached by their bytes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PUBLIC_KEY_LENGTH = 32
SIGNATURE_LENGTH = 64


@lru_cache(maxsize=4096)
def public_key(raw: bytes) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(raw)


def verify(raw_public_key: bytes, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message`` by the key."""
    from cryptography.exceptions import InvalidSignature

    if len(raw_public_key) != PUBLIC_KEY_LENGTH or len(signature) != SIGNATURE_LENGTH:
        return False
    try:
        public_key(raw_public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
