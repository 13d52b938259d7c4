"""Encrypted PKCS#8 (RFC 5958) with PBES2: PBKDF2-HMAC-SHA256 at OWASP's 600,000 iterations.

cryptography writes PKCS#8 only with its fixed 2,048 PBKDF2 iterations (its encryption builder
serves OpenSSH and PKCS#12 alone), so jdzhi encodes the few fixed DER structures itself; reading
stays with cryptography, which opens these files and older ones alike.
"""

from __future__ import annotations

import os

__all__ = ["KDF_ITERATIONS", "encrypt_pkcs8_pem"]

#: OWASP Password Storage Cheat Sheet (2023) for PBKDF2-HMAC-SHA256
KDF_ITERATIONS = 600_000

_PBES2 = "1.2.840.113549.1.5.13"
_PBKDF2 = "1.2.840.113549.1.5.12"
_HMAC_SHA256 = "1.2.840.113549.2.9"
_AES256_CBC = "2.16.840.1.101.3.4.1.42"


def encrypt_pkcs8_pem(private_key_info: bytes, passphrase: bytes) -> bytes:
    """``private_key_info`` (unencrypted PKCS#8 DER) as an ENCRYPTED PRIVATE KEY PEM."""
    from cryptography.hazmat.primitives import hashes, padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    salt, iv = os.urandom(16), os.urandom(16)
    key = PBKDF2HMAC(hashes.SHA256(), 32, salt, KDF_ITERATIONS).derive(passphrase)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(private_key_info) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padded) + encryptor.finalize()
    pbkdf2_params = _sequence(_octets(salt), _integer(KDF_ITERATIONS),
                              _sequence(_oid(_HMAC_SHA256), b"\x05\x00"))
    pbes2_params = _sequence(_sequence(_oid(_PBKDF2), pbkdf2_params),
                             _sequence(_oid(_AES256_CBC), _octets(iv)))
    der = _sequence(_sequence(_oid(_PBES2), pbes2_params), _octets(encrypted))
    return _pem("ENCRYPTED PRIVATE KEY", der)


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _sequence(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _octets(value: bytes) -> bytes:
    return _tlv(0x04, value)


def _integer(value: int) -> bytes:
    # one extra byte keeps the top bit clear: DER integers are signed
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(arc) for arc in dotted.split("."))
    body = bytearray([40 * first + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _pem(label: str, der: bytes) -> bytes:
    import base64

    text = base64.b64encode(der).decode("ascii")
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""]).encode()
