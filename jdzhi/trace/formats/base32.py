"""RFC 4648 base32 (uppercase, no padding) as labels carry it: strict, canonical decoding.
"""

from __future__ import annotations

import re
from functools import lru_cache

from jdzhi.trace.formats.common import LabelError

__all__ = [
    "base32_decode",
    "base32_encode",
]

_BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


_BASE32_VALUE = {char: index for index, char in enumerate(_BASE32_ALPHABET)}


_BASE32_TEXT = re.compile("[A-Z2-7]*")


_TO_INT_DIGITS = str.maketrans(_BASE32_ALPHABET, "0123456789abcdefghijklmnopqrstuv")


_BASE32_BYTES = _BASE32_ALPHABET.encode().ljust(256, b"\0")


def base32_encode(data: bytes) -> str:
    """RFC 4648 base32, uppercase, without padding.

    ``base64.b32encode`` is pure Python before 3.13 and was the largest cost of a signed record
    after its signatures, so this spreads the 5-bit groups of one big integer into bytes in a
    few whole-number steps (:func:`_base32_spread`) and maps the bytes to the alphabet.
    """
    bits = 8 * len(data)
    chars = -(-bits // 5)
    if not chars:
        return ""
    width, steps = _base32_spread(chars)
    value = int.from_bytes(data, "big") << (5 * chars - bits)
    for low, high, shift in steps:
        value = (value & low) | ((value & high) << shift)
    return value.to_bytes(width, "big")[width - chars:].translate(_BASE32_BYTES).decode("ascii")


@lru_cache(maxsize=16)
def _base32_spread(chars: int) -> tuple[int, tuple[tuple[int, int, int], ...]]:
    """How to move ``chars`` 5-bit groups, packed in an integer, one per byte: halve the blocks
    of groups again and again (``width`` groups, a power of two, the top ones zero), each time
    shifting the upper half of every block up by 3 bits per group it holds."""
    width = 1 << (chars - 1).bit_length()
    steps = []
    half = width // 2
    while half:
        group_bits = (1 << 5 * half) - 1
        low = high = 0
        for block in range(0, 8 * width, 16 * half):
            low |= group_bits << block
            high |= group_bits << (block + 5 * half)
        steps.append((low, high, 3 * half))
        half //= 2
    return width, tuple(steps)


def base32_decode(text: str) -> bytes:
    """Strict inverse of :func:`base32_encode`: the only text accepted is the canonical one.

    Refused: lowercase or any character outside ``A-Z2-7``, padding, a length that no byte
    string encodes to, and non-zero spare bits in the last character.
    """
    bits = 5 * len(text)
    spare = bits % 8
    if spare >= 5:  # no byte string encodes to this many characters
        raise LabelError(f"{len(text)} characters is not a base32 length")
    if not _BASE32_TEXT.fullmatch(text):
        bad = next(char for char in text if char not in _BASE32_VALUE)
        raise LabelError(f"{bad!r} is not an uppercase base32 character")
    if not text:
        return b""
    # int(..., 32) reads the digits 0-9a-v: translate the RFC 4648 alphabet onto them
    value = int(text.translate(_TO_INT_DIGITS), 32)
    if value & ((1 << spare) - 1):
        raise LabelError("the last base32 character has spare bits set")
    return (value >> spare).to_bytes(bits // 8, "big")
