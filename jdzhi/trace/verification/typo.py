"""A hint for hand-typed labels: is a tampered label one character away from a valid one?"""

from __future__ import annotations

import string
from datetime import datetime

from jdzhi.trace.formats.labels import split_label_text
from jdzhi.trace.trust.model import Trust
from jdzhi.trace.verification.result import Verdict
from jdzhi.trace.verification.verifier import Verifier

__all__ = ["one_character_away"]

#: RFC 4648 base32, the alphabet of a label's payload
_ALPHABET = string.ascii_uppercase + "234567"
#: verdicts that mean the signature checked out (the rest is about the license or key status)
_SIGNATURE_VALID = frozenset({Verdict.GENUINE, Verdict.REVOKED, Verdict.SUSPENDED,
                              Verdict.EXPIRED})


def one_character_away(text: str, trust: Trust, now: datetime | None = None) -> str | None:
    """The label text that differs from ``text`` in one payload character and carries a valid
    signature, or None. At most 124 positions x 31 characters, each a cheap Ed25519 check."""
    base, payload = split_label_text(text, trust.bases)
    verifier = Verifier(trust, now)
    for position, typed in enumerate(payload):
        for char in _ALPHABET:
            if char == typed:
                continue
            candidate = f"{base}{payload[:position]}{char}{payload[position + 1:]}"
            if verifier.label_text(candidate).verdict in _SIGNATURE_VALID:
                return candidate
    return None
