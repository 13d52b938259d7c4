"""Private key files: Ed25519 in encrypted PKCS#8 PEM, created 0600, never shown.

New files use PBKDF2-HMAC-SHA256 at 600,000 iterations (:mod:`._pkcs8`); files written by older
jdzhi (2,048 iterations) still load. A new key's passphrase has at least
:data:`MIN_PASSPHRASE_CHARS` characters.

A :class:`SigningKey` wraps a loaded private key; its ``repr`` shows only the public key, so that
no log or traceback can carry the secret.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from jdzhi.errors import Conflict, InvalidInput, KeyUnusable
from jdzhi.files import replace_atomically, write_new
from jdzhi.trace import ed25519
from jdzhi.trace.formats.records import base64url_decode
from jdzhi.trace.keys._pkcs8 import encrypt_pkcs8_pem

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "MAX_KEY_FILE_BYTES",
    "MIN_PASSPHRASE_CHARS",
    "SigningKey",
    "check_new_key_path",
    "check_new_passphrase",
    "from_seed",
    "generate",
    "load_key",
    "read_key_file",
    "read_public_key",
    "write_key",
    "write_public_key",
]

#: a PEM key file is a few hundred bytes; anything much larger is not one
MAX_KEY_FILE_BYTES = 64 * 1024
#: the shortest passphrase a new key file accepts (NIST SP 800-63B asks at least 8; a key file
#: can be attacked offline, so more)
MIN_PASSPHRASE_CHARS = 12


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key in memory (``public_key`` is the raw 32 bytes)."""

    public_key: bytes
    _private: Ed25519PrivateKey = field(repr=False, compare=False)
    #: the same key in libsodium's form, which signs faster (:mod:`jdzhi.trace.ed25519`)
    _secret: bytes = field(repr=False, compare=False)

    def sign(self, message: bytes) -> bytes:
        return ed25519.sign(self._secret, message)

    @property
    def secret(self) -> bytes:
        """The 64-byte libsodium secret key, only to hand to worker processes that sign."""
        return self._secret

    def encrypted_pem(self, passphrase: bytes) -> bytes:
        from cryptography.hazmat.primitives import serialization

        check_new_passphrase(passphrase, what="a new key")
        return encrypt_pkcs8_pem(
            self._private.private_bytes(serialization.Encoding.DER,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()),
            passphrase,
        )


def generate() -> SigningKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return _signing_key(Ed25519PrivateKey.generate())


def from_seed(seed: bytes) -> SigningKey:
    """The key whose RFC 8032 secret (seed) is ``seed``: for test vectors, never for real keys."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return _signing_key(Ed25519PrivateKey.from_private_bytes(seed))


def _signing_key(private: Ed25519PrivateKey) -> SigningKey:
    public = private.public_key().public_bytes_raw()
    return SigningKey(public, private, ed25519.secret_key(private.private_bytes_raw(), public))


def check_new_passphrase(passphrase: bytes, *, what: str) -> bytes:
    """Refuse a passphrase too short to protect a new key file."""
    if len(passphrase.decode("utf-8", errors="replace")) < MIN_PASSPHRASE_CHARS:
        raise KeyUnusable(
            f"the passphrase for {what} is too short: a new key needs at least "
            f"{MIN_PASSPHRASE_CHARS} characters"
        )
    return passphrase


def check_new_key_path(path: Path) -> Path:
    """Refuse an existing file or a missing folder before anything is generated or stored."""
    if path.exists() or path.is_symlink():
        raise Conflict(f"{path} already exists; jdzhi never overwrites a key file")
    if not path.parent.is_dir():
        raise InvalidInput(f"folder {path.parent} does not exist")
    return path


def write_key(path: Path, key: SigningKey, passphrase: bytes) -> None:
    """Write the key encrypted, creating the file with mode 0600 (never a moment wider)."""
    write_new(path, key.encrypted_pem(passphrase), mode=0o600,
              exists=f"{path} already exists; jdzhi never overwrites a key file")


def read_key_file(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_KEY_FILE_BYTES:
            raise KeyUnusable(f"{path} is too large to be a jdzhi key file")
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyUnusable(f"key file {path} does not exist") from None
    except IsADirectoryError:
        raise KeyUnusable(f"{path} is a folder, not a key file") from None
    except OSError as error:
        raise KeyUnusable(f"cannot read key file {path}: {error.strerror}") from None


def load_key(path: Path, passphrase: bytes) -> SigningKey:
    """Load an encrypted Ed25519 key file; a wrong passphrase is a clear KEY_ERROR."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = read_key_file(path)
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" not in data:
        raise KeyUnusable(f"{path} is not an encrypted PKCS#8 private key file")
    try:
        private = serialization.load_pem_private_key(data, password=passphrase)
    except (ValueError, TypeError):
        # cryptography reports a wrong passphrase and a damaged file alike as ValueError
        raise KeyUnusable(
            f"cannot unlock {path}: wrong passphrase (or the key file is damaged)"
        ) from None
    except Exception:
        raise KeyUnusable(f"{path} is not a readable private key file") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyUnusable(f"{path} holds a {type(private).__name__}, not an Ed25519 key")
    return _signing_key(private)


def write_public_key(path: Path, public_key: bytes) -> None:
    """The authority's public key as PEM (SubjectPublicKeyInfo), world-readable: it is public."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    pem = Ed25519PublicKey.from_public_bytes(public_key).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    replace_atomically(path, pem)


def read_public_key(text: str) -> bytes:
    """A raw Ed25519 public key from 64 hex digits, 43 base64url characters, or a PEM file path."""
    value = text.strip()
    if len(value) == 64:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    if len(value) == 43:
        try:
            raw = base64url_decode(value)  # the canonical text only (docs/format.md)
            if len(raw) == 32:
                return raw
        except (binascii.Error, ValueError):
            pass
    path = Path(value)
    if not path.is_file():
        raise InvalidInput(
            f"authority key {text!r} is neither 64 hex digits, base64url, nor a PEM file"
        )
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        loaded = serialization.load_pem_public_key(path.read_bytes()[:MAX_KEY_FILE_BYTES])
    except (ValueError, OSError):
        raise InvalidInput(f"{path} is not a PEM public key file") from None
    if not isinstance(loaded, Ed25519PublicKey):
        raise InvalidInput(f"{path} is not an Ed25519 public key")
    return loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
