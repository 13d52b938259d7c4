"""Ed25519 (RFC 8032) signatures through libsodium (PyNaCl): raw bytes in, bytes and booleans out.

Everything jdzhi signs is Ed25519; public keys travel as their raw 32 bytes. libsodium signs
about 1.7 times and verifies about twice as fast as the OpenSSL 3.0 inside ``cryptography``
(``benchmarks/bench_sign_verify.py`` prints both in one run), and PyNaCl releases the GIL during
each call, so threads sign and verify on every core. Key files stay encrypted PKCS#8 through
``cryptography`` (:mod:`jdzhi.trace.keys.keyfile`); both libraries make the same (deterministic)
signatures. libsodium's verification is the strict kind: besides a non-canonical ``S`` it refuses
small-order and non-canonical public keys and ``R`` points, which RFC 8032 leaves open.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "PUBLIC_KEY_LENGTH",
    "SECRET_KEY_LENGTH",
    "SIGNATURE_LENGTH",
    "has_small_order",
    "secret_key",
    "sign",
    "signer",
    "verify",
]

PUBLIC_KEY_LENGTH = 32
SECRET_KEY_LENGTH = 64
SIGNATURE_LENGTH = 64


#: every encoding of a point of order 1, 2, 4 or 8, ignoring the sign bit (libsodium's list:
#: the identity, the points of order 4 and 8, and the non-canonical y = p - 1, p, p + 1)
_SMALL_ORDER_ENCODINGS = tuple(bytes.fromhex(text) for text in (
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
))


def has_small_order(point: bytes) -> bool:
    """Whether a 32-byte point encoding (a public key, or the R half of a signature) is one of a
    small-order point: under such a key, forgeries verify in lenient verifiers (docs/format.md)."""
    masked = point[:31] + bytes([point[31] & 0x7F]) if len(point) == 32 else point
    return masked in _SMALL_ORDER_ENCODINGS


def secret_key(seed: bytes, public_key: bytes) -> bytes:
    """libsodium's 64-byte secret key: the RFC 8032 secret (seed) followed by the public key."""
    return seed + public_key


def sign(secret: bytes, message: bytes) -> bytes:
    """The 64-byte Ed25519 signature of ``message`` by a :func:`secret_key`."""
    return signer(secret)(message)


def signer(secret: bytes) -> Callable[[bytes], bytes]:
    """:func:`sign` with one key, as a function of the message: for signing many messages."""
    from nacl.bindings import crypto_sign

    def sign_message(message: bytes) -> bytes:
        return crypto_sign(message, secret)[:SIGNATURE_LENGTH]

    return sign_message


def verify(raw_public_key: bytes, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message`` by the key."""
    from nacl.bindings import crypto_sign_open
    from nacl.exceptions import BadSignatureError

    if len(raw_public_key) != PUBLIC_KEY_LENGTH or len(signature) != SIGNATURE_LENGTH:
        return False
    try:
        crypto_sign_open(signature + message, raw_public_key)
    except BadSignatureError:
        return False
    return True

