"""Unified social credit codes (统一社会信用代码, GB 32100-2015).

A code has 18 characters from ``0123456789ABCDEFGHJKLMNPQRTUWXY`` (no I, O, S, V, Z):

====== =====================================================================
1      registration authority (9 = market regulation, 5 = civil affairs, ...)
2      kind of organization (1 = company, 2 = individual business, ...)
3-8    administrative division of the registering office (GB/T 2260 digits)
9-17   organization code (GB 11714): 8 characters and a check character
18     check character over characters 1-17
====== =====================================================================

Character 18 is ``31 - (sum of value(c_i) * 3^(i-1) mod 31) mod 31``; a wrong one is an error.
Character 17 is the GB 11714 check ``11 - (sum of value(c_i) * w_i mod 11)`` over characters 9-16
(10 written ``X``, 11 written ``0``); some codes issued in early pilot regions do not satisfy it,
so a mismatch there is only a warning.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from jdzhi.errors import InvalidInput

__all__ = [
    "CHARSET",
    "WEIGHTS",
    "UsccCheck",
    "check_character",
    "generate",
    "normalize",
    "organization_check_character",
    "validate",
]

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {char: value for value, char in enumerate(CHARSET)}
#: 3^(i-1) mod 31 for i = 1..17
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))

#: GB 11714 organization code: digits and letters A-Z (A = 10 ... Z = 35), weights for chars 1-8
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY = re.compile(r"[0-9A-Z]{8}")


@dataclass(frozen=True)
class UsccCheck:
    """A code that passed the check of character 18, with warnings about the rest."""

    code: str
    warnings: tuple[str, ...]

    @property
    def division_code(self) -> str:
        return self.code[2:8]


def check_character(first17: str) -> str:
    """The GB 32100 check character (position 18) of the first 17 characters."""
    total = sum(_VALUE[char] * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def organization_check_character(body: str) -> str | None:
    """The GB 11714 check character of an 8-character organization-code body, or None
    when the body has characters that GB 11714 does not weigh."""
    if not _ORG_BODY.fullmatch(body):
        return None
    total = sum(int(char, 36) * weight for char, weight in zip(body, _ORG_WEIGHTS, strict=True))
    remainder = 11 - total % 11
    return {10: "X", 11: "0"}.get(remainder, str(remainder))


def normalize(text: str) -> str:
    """Upper case, without the spaces and hyphens people type to group the characters."""
    return re.sub(r"[\s-]", "", text).upper()


def validate(text: str) -> UsccCheck:
    """Check a code; raise :class:`InvalidInput` with the reason when character 18 (or the form)
    is wrong, return warnings for what GB 32100 tolerates."""
    code = normalize(text)
    shown = text.strip() or "''"
    if len(code) != 18:
        raise InvalidInput(f"USCC {shown} has {len(code)} characters, not 18")
    bad = sorted({char for char in code if char not in _VALUE})
    if bad:
        raise InvalidInput(
            f"USCC {shown} contains {', '.join(repr(char) for char in bad)}, which GB 32100 "
            "does not use (allowed: digits and ABCDEFGHJKLMNPQRTUWXY)"
        )
    if not (code[2:8].isascii() and code[2:8].isdigit()):
        raise InvalidInput(f"USCC {shown}: characters 3-8 must be a 6-digit division code")
    expected = check_character(code[:17])
    if code[17] != expected:
        raise InvalidInput(
            f"USCC {shown} fails the GB 32100 check: character 18 is {code[17]!r}, "
            f"expected {expected!r} (a typo?)"
        )
    warnings: list[str] = []
    org_check = organization_check_character(code[8:16])
    if org_check is not None and code[16] != org_check:
        warnings.append(
            f"USCC {code}: character 17 is {code[16]!r}, the GB 11714 organization-code check "
            f"gives {org_check!r} (tolerated: early pilot codes differ)"
        )
    return UsccCheck(code=code, warnings=tuple(warnings))


def generate(rng: random.Random, *, division_code: str, authority: str = "9",
             kind: str = "1") -> str:
    """A code that passes both checks, for SAMPLE data only (it names no real organization)."""
    # older organization codes are 8 digits; those issued since 2015 mostly start with MA
    if rng.random() < 0.5:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    else:
        body = "MA" + "".join(rng.choice(CHARSET) for _ in range(6))
    org_check = organization_check_character(body)
    assert org_check is not None  # CHARSET is a subset of what GB 11714 weighs
    first17 = f"{authority}{kind}{division_code}{body}{org_check}"
    return first17 + check_character(first17)
