"""What the center answered to the testing center and the registry staff (`jdzhi lab push`,
`jdzhi trust publish`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jdzhi.online.uploads import SentEndorsement, TrustPublished


def sent_endorsement_json(sent: SentEndorsement) -> dict[str, Any]:
    return {"report_no": sent.report_no, "lab_id": sent.lab_id, "outcome": sent.outcome,
            "batch": sent.batch, "enterprise": sent.enterprise, "created": sent.created}


def trust_published_json(done: TrustPublished) -> dict[str, Any]:
    return {"server": done.server, "file": done.file, "issued_at": done.issued_at,
            "expires_at": done.expires_at, "bytes": done.size, "sha256": done.sha256,
            "keys": done.keys, "enterprises": done.enterprises,
            "endorsements": done.endorsements}
