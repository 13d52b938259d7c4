"""What verification returns: a verdict (a closed set), the reasons for it, and what the record
says (docs/format.md, "Verdicts"); :mod:`jdzhi.trace.verification.verifier` makes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from jdzhi.trace.trust.model import EndorsementOutcome

__all__ = ["NO_ENDORSEMENT", "EndorsementStatus", "Verdict", "VerificationResult"]


class Verdict(StrEnum):
    GENUINE = "genuine"
    TAMPERED = "tampered"
    UNKNOWN_KEY = "unknown-key"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    MALFORMED = "malformed"
    #: the signature and every rule pass, but the trust data is out of date: cannot confirm
    STALE_TRUST = "stale-trust"
    RECALLED = "recalled"


@dataclass(frozen=True)
class EndorsementStatus:
    """The testing center's word on the record's batch: ``none``, ``pass`` or ``fail``."""

    status: EndorsementOutcome | Literal["none"]
    lab: str | None = None
    report_no: str | None = None
    tested_at: datetime | None = None
    batch: str | None = None
    standard: str | None = None


NO_ENDORSEMENT = EndorsementStatus("none")


@dataclass(frozen=True)
class VerificationResult:
    """The verdict on one label or record; ``reasons`` say why, for people."""

    verdict: Verdict
    serial: str | None
    enterprise: str | None
    reasons: tuple[str, ...]
    endorsement: EndorsementStatus = NO_ENDORSEMENT
    form: Literal["label", "record"] = "label"
    enterprise_id: int | None = None
    enterprise_short_name: str | None = None
    key_id: int | None = None
    category: str | None = None
    category_name: str | None = None
    signed_at: datetime | None = None
    production_date: str | None = None
    batch: str | None = None
    license_no: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def genuine(self) -> bool:
        return self.verdict is Verdict.GENUINE
