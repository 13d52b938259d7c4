"""Screening submissions against every registered work: hashes first, then keypoints.

Stage 1 (:mod:`.hash_stage`): the submission's PDQ views against the two hashes of every work.
Stage 2 (:mod:`.keypoint_stage`): its ORB keypoints retrieve candidate works independently of
the hash, verified by a plausible RANSAC geometry. This module ranks what both found, names the
modifications (:mod:`.modifications`) and gives the verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from jdzhi.errors import InvalidInput
from jdzhi.similarity.fingerprint import QueryFingerprint, QueryView
from jdzhi.similarity.hash_stage import COPY_DISTANCE, REVIEW_DISTANCE, hash_distances
from jdzhi.similarity.keypoint_stage import (
    COPY_INLIERS,
    OBLIQUE_COPY_INLIERS,
    REVIEW_INLIERS,
    VERIFY_BY_HASH,
    Verified,
    keypoint_evidence,
)
from jdzhi.similarity.modifications import Modification, describe
from jdzhi.similarity.work_index import (
    WorkDetails,
    WorkIndex,
    load_index,
    read_snapshot,
    single_threaded_faiss,
)

if TYPE_CHECKING:
    from jdzhi.registry.db import Database

__all__ = [
    "IMAGE_SUFFIXES",
    "Evidence",
    "Match",
    "ScreenVerdict",
    "Screening",
    "count_verdicts",
    "expand_inputs",
    "screen_fingerprint",
    "screen_image",
    "screen_paths",
]


class ScreenVerdict(StrEnum):
    """copy: near-certainly a registered work; review: a person should look; clear: nothing
    close; error: the file could not be screened."""

    COPY = "copy"
    REVIEW = "review"
    CLEAR = "clear"
    ERROR = "error"


#: what found a match: the hash stage, the keypoint stage, both, or neither (a near hash
#: beyond review distance, listed for ranking only)
Evidence = Literal["hash", "keypoints", "hash+keypoints", "none"]
#: the chroma shift (of a and b) beyond which a matched copy is called recoloured
_RECOLOURED_SHIFT = 12


@dataclass(frozen=True)
class Match:
    work_id: int
    reg_no: str
    title: str
    distance: int  # best PDQ distance over all views (0-256)
    score: float  # 0-1 similarity
    inliers: int  # keypoints agreeing on one homography (0 when not verified)
    modifications: tuple[Modification, ...]
    evidence: Evidence
    oblique: bool = False  # the keypoints see the work at an angle

    @property
    def modification(self) -> str | None:
        """The modifications in words, each named once."""
        return describe(self.modifications)

    @property
    def is_copy(self) -> bool:
        """Near-certain: a close hash, or many keypoints on a frontal view (an oblique one may
        be another photo of a like piece, so it needs more)."""
        needed = OBLIQUE_COPY_INLIERS if self.oblique else COPY_INLIERS
        return self.distance <= COPY_DISTANCE or self.inliers >= needed

    @property
    def is_close(self) -> bool:
        return self.distance <= REVIEW_DISTANCE or self.inliers >= REVIEW_INLIERS

    @property
    def flagged(self) -> bool:
        """Found by either stage (not just a near hash listed for ranking)."""
        return self.distance <= REVIEW_DISTANCE or self.inliers > 0


@dataclass(frozen=True)
class Screening:
    image: str
    verdict: ScreenVerdict
    matches: tuple[Match, ...] = ()
    error: str | None = None
    thumbnail: bytes | None = field(default=None, repr=False)


def count_verdicts(results: Sequence[Screening]) -> dict[ScreenVerdict, int]:
    """How many submissions got each verdict (every verdict present, copies first)."""
    return {verdict: sum(r.verdict is verdict for r in results) for verdict in ScreenVerdict}


def _score(distance: int, inliers: int) -> float:
    """0-1: 1 - distance/128 for hashes (unrelated images sit near 128), inliers saturating."""
    hash_score = max(0.0, 1.0 - distance / 128)
    feature_score = min(1.0, inliers / (2 * COPY_INLIERS)) if inliers else 0.0
    return round(max(hash_score, feature_score), 3)


#: the distance of a work no query view came near
_NO_HASH_MATCH = 256


def screen_fingerprint(index: WorkIndex, query: QueryFingerprint, chroma: tuple[float, float],
                       query_size: tuple[int, int], *, top: int = 5
                       ) -> tuple[ScreenVerdict, list[Match]]:
    """The verdict and the ranked matches of one fingerprinted submission."""
    if len(index) == 0:
        return ScreenVerdict.CLEAR, []
    by_hash = hash_distances(index, query.hashes)
    hash_order = sorted(by_hash, key=lambda w: by_hash[w][0])
    details: dict[int, WorkDetails] = {}
    verified = _verified_both_ways(index, query, hash_order[:VERIFY_BY_HASH], query_size,
                                   details)

    def distance_of(work: int) -> int:
        return by_hash[work][0] if work in by_hash else _NO_HASH_MATCH

    ranked = sorted(
        set(hash_order[:top]) | set(verified),
        key=lambda w: (-_score(distance_of(w), verified[w].inliers if w in verified else 0),
                       distance_of(w), w))[:top]
    missing = [work for work in ranked if work not in details]
    if missing:
        details.update(index.details(missing))
    matches = []
    for work in ranked:
        if work not in details:  # removed since the hashes were read: not in this snapshot
            continue
        view = query.views[by_hash[work][1]] if work in by_hash else None
        matches.append(_match(work, details[work], distance_of(work), view, verified.get(work),
                              chroma))
    verdict = _verdict(matches)
    if verdict is not ScreenVerdict.CLEAR:
        matches = [m for m in matches if m.flagged] + [m for m in matches if not m.flagged]
    return verdict, matches


def _verified_both_ways(index: WorkIndex, query: QueryFingerprint, hash_candidates: list[int],
                        query_size: tuple[int, int],
                        details: dict[int, WorkDetails]) -> dict[int, Verified]:
    """Keypoint evidence for the submission and for its mirror image (ORB descriptors are not
    mirror-symmetric), the stronger kept per work."""
    verified = keypoint_evidence(index, query.keypoints, hash_candidates, query_size, details)
    mirrored = keypoint_evidence(index, query.mirrored_keypoints, hash_candidates, query_size,
                                 details)
    for work, seen_mirrored in mirrored.items():
        if work not in verified or seen_mirrored.inliers > verified[work].inliers:
            verified[work] = replace(seen_mirrored, modifications=(
                Modification("mirrored"), *seen_mirrored.modifications))
    return verified


def _match(work: int, found: WorkDetails, distance: int, view: QueryView | None,
           check: Verified | None,
           chroma: tuple[float, float]) -> Match:
    """One ranked work as a match: its evidence and the modifications both stages saw."""
    import math

    inliers = check.inliers if check else 0
    hash_hit = distance <= REVIEW_DISTANCE
    modifications: tuple[Modification, ...] = ()
    if hash_hit and view is not None:
        modifications = view.modifications
        if view.view == "trimmed" and check is not None:
            modifications = (*modifications, *check.modifications)
    elif check is not None:
        modifications = check.modifications
    if (hash_hit or inliers) and math.hypot(chroma[0] - found.chroma[0],
                                            chroma[1] - found.chroma[1]) > _RECOLOURED_SHIFT:
        modifications = (*modifications, Modification("recoloured"))
    evidence: Evidence = ("hash+keypoints" if hash_hit and inliers else "hash" if hash_hit
                          else "keypoints" if inliers else "none")
    return Match(work_id=work, reg_no=found.reg_no, title=found.title, distance=distance,
                 score=_score(distance, inliers), inliers=inliers, modifications=modifications,
                 evidence=evidence, oblique=check is not None and check.perspective)


def _verdict(matches: Sequence[Match]) -> ScreenVerdict:
    verdict = ScreenVerdict.CLEAR
    for match in matches:
        if match.is_copy:
            return ScreenVerdict.COPY
        if match.is_close:
            verdict = ScreenVerdict.REVIEW
    return verdict


def screen_image(index: WorkIndex, path: Path, *, top: int = 5) -> Screening:
    """Screen one file; an unreadable file gives verdict ``error`` rather than raising."""
    from jdzhi.similarity.fingerprint import query_fingerprint
    from jdzhi.similarity.images import load_image

    try:
        image = load_image(path)
    except InvalidInput as error:
        # the result names the image already
        return Screening(image=str(path), verdict=ScreenVerdict.ERROR,
                         error=error.message.removeprefix(f"{path}: "))
    query = query_fingerprint(image)
    size = (image.gray.shape[1], image.gray.shape[0])
    verdict, matches = screen_fingerprint(index, query, image.chroma, size, top=top)
    return Screening(image=str(path), verdict=verdict, matches=tuple(matches),
                     thumbnail=image.thumbnail)


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")


def expand_inputs(paths: Sequence[Path]) -> list[Path]:
    """Files as given, folders as their image files (sorted); a missing path is an error."""
    expanded: list[Path] = []
    for path in paths:
        if path.is_dir():
            expanded.extend(sorted(p for p in path.iterdir()
                                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.exists():
            expanded.append(path)
        else:
            raise InvalidInput(f"{path}: no such file or folder")
    if not expanded:
        raise InvalidInput("no images to screen (folders hold no .jpg/.png/... files)")
    return expanded


def screen_paths(db: Database, paths: Sequence[Path], *, top: int = 5,
                 progress: Callable[[int], None] | None = None) -> list[Screening]:
    """Screen files and folders against every registered work (``jdzhi works screen``)."""
    if not 1 <= top <= 100:
        raise InvalidInput(f"--top must be between 1 and 100 (got {top})")
    files = expand_inputs(paths)
    results = []
    with read_snapshot(db), single_threaded_faiss():
        index = load_index(db)
        for path in files:
            results.append(screen_image(index, path, top=top))
            if progress is not None:
                progress(1)
    return results
