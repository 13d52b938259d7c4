"""Text rules shared by signed notes, verifier keys and checkpoints."""

from __future__ import annotations

import base64
import binascii

# Unicode's White_Space property (what Go's unicode.IsSpace tests): signed-note key names may
# contain none of these
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)


def decode_base64(text: str) -> bytes | None:
    """Standard padded base64 (RFC 4648 §4) in its one canonical spelling, else None."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    # b64decode accepts nonzero padding bits: one value, one spelling
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def encode_base64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def is_key_name(name: str) -> bool:
    """A signed-note key name: not empty, no Unicode space, no plus, no control character."""
    return (bool(name) and "+" not in name and not any(c in _WHITE_SPACE for c in name)
            and not has_control_character(name) and is_utf8_encodable(name))


def has_control_character(text: str) -> bool:
    """True when text holds an ASCII control character (below U+0020) other than newline."""
    return any(c < " " and c != "\n" for c in text)


def is_utf8_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True
