"""Registered works and screenings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jdzhi.similarity.screen import Match, Screening
    from jdzhi.similarity.works import Work


def work_json(work: Work) -> dict[str, Any]:
    return {"id": work.id, "reg_no": work.reg_no, "title": work.title, "owner": work.owner,
            "creation_date": work.creation_date, "image": work.image_name,
            "image_sha256": work.image_sha256, "width": work.width, "height": work.height,
            "registered_at": work.registered_at}


def match_json(match: Match) -> dict[str, Any]:
    return {"reg_no": match.reg_no, "title": match.title, "distance": match.distance,
            "score": match.score, "inliers": match.inliers, "modification": match.modification,
            "evidence": match.evidence}


def screening_json(screening: Screening) -> dict[str, Any]:
    data: dict[str, Any] = {"image": screening.image, "verdict": screening.verdict.value,
                            "matches": [match_json(match) for match in screening.matches]}
    if screening.error is not None:
        data["error"] = screening.error
    return data
