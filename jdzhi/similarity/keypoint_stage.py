"""Stage 2 of the screening, for crops, perspective and pasting into another picture.

The submission's strongest ORB keypoints against the registered works' strongest (the retrieval
index of :mod:`jdzhi.similarity.index`) retrieve candidate works independently of the hash; the
best few are verified, with all their keypoints read from the registry, by a RANSAC homography
that must be a plausible view of the work (orientation kept, bounded scale, skew and
perspective, enough inliers spread over the work).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jdzhi.similarity.fingerprint import Keypoints
from jdzhi.similarity.modifications import Modification, rotated
from jdzhi.similarity.work_index import WorkDetails, WorkIndex, flat_index

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "COPY_INLIERS",
    "OBLIQUE_COPY_INLIERS",
    "REVIEW_INLIERS",
    "VERIFY_BY_HASH",
    "Verified",
    "keypoint_evidence",
]

#: distinct RANSAC inliers of a sane geometry that make a copy / a review. Measured on real
#: photos: modified copies (crops, re-photographs, listings) mostly verify with 65-250, while
#: another photo of a twin piece painted to the same design reaches 20-70: a person decides.
COPY_INLIERS = 80
REVIEW_INLIERS = 20
#: registered works verified geometrically per submission (best keypoint votes, best hashes)
VERIFY_BY_VOTES = 4
VERIFY_BY_HASH = 2
#: how far (in work pixels at its far side) the homography may bend before the view is called
#: oblique ("seen in perspective")
PERSPECTIVE_NOTED = 0.15
#: keypoint evidence of an oblique view makes a copy only with this many inliers, else a review
OBLIQUE_COPY_INLIERS = 120
RATIO = 0.8
#: registered descriptors fetched per submission descriptor when retrieving candidates
RETRIEVAL_NEIGHBOURS = 4
#: the submission's strongest keypoints that retrieve candidates (all verify)
QUERY_RETRIEVAL_KEYPOINTS = 250
#: ORB descriptors further apart than this (of 256 bits) are not the same corner
MAX_DESCRIPTOR_DISTANCE = 64


@dataclass(frozen=True)
class Verified:
    """A work whose keypoints a sane geometry maps onto the submission's: how many matches the
    geometry explains (``inliers``) and how the submission changed the work (cropped, pasted into
    another picture, rotated, seen in perspective)."""

    inliers: int
    modifications: tuple[Modification, ...]
    #: the view is oblique: a re-photograph, or another photo of the same design (a person
    #: should look)
    perspective: bool
    #: the share of one-to-one descriptor matches that the geometry explains
    agreement: float


def keypoint_evidence(index: WorkIndex, keypoints: Keypoints, hash_candidates: Sequence[int],
                      query_size: tuple[int, int],
                      details: dict[int, WorkDetails]) -> dict[int, Verified]:
    """Works whose keypoints a sane geometry maps onto the submission's: the best hash
    candidates and the works most submission descriptors vote for, each verified by RANSAC.
    ``details`` is filled with the details of every candidate (work id -> details)."""
    candidates: dict[int, None] = dict.fromkeys(hash_candidates)
    candidates.update(dict.fromkeys(_voted_works(index, keypoints)))
    missing = [work for work in candidates if work not in details]
    if missing:
        details.update(index.details(missing))
    query_index = flat_index(keypoints.descriptors)
    verified: dict[int, Verified] = {}
    for work in candidates:
        if work not in details:
            continue
        found = details[work]
        result = _verify(keypoints, query_index, found.keypoints, found.size, query_size)
        if result is not None:
            verified[work] = result
    return verified


def _voted_works(index: WorkIndex, keypoints: Keypoints) -> list[int]:
    """The works most of the submission's descriptors retrieve (at least 4 votes each)."""
    import numpy as np

    from jdzhi.similarity.index import work_of

    if len(keypoints.descriptors) < 2 or index.feature_index.ntotal < 2:
        return []
    # the ratio test compares the nearest descriptor with the nearest of ANOTHER work: one
    # work's own repeats (the same corner at several scales) must not cancel its match
    distances, labels = index.feature_index.search(
        keypoints.descriptors[:QUERY_RETRIEVAL_KEYPOINTS],
        min(RETRIEVAL_NEIGHBOURS, index.feature_index.ntotal))
    owners = work_of(labels)
    other = owners != owners[:, :1]
    has_other = other.any(axis=1)
    rival = np.where(has_other, distances[np.arange(len(distances)), other.argmax(axis=1)],
                     np.iinfo(np.int32).max)
    good = ((labels[:, 0] >= 0) & (distances[:, 0] <= MAX_DESCRIPTOR_DISTANCE)
            & (distances[:, 0] < RATIO * rival))
    if not good.any():
        return []
    works, votes = np.unique(owners[good, 0], return_counts=True)
    return [int(works[position])
            for position in np.argsort(-votes, kind="stable")[:VERIFY_BY_VOTES]
            if votes[position] >= 4]


def _one_to_one_matches(query_index: Any, work: Keypoints
                        ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(work keypoint, submission keypoint) pairs passing the ratio test, one work keypoint
    per submission keypoint."""
    import numpy as np

    distances, labels = query_index.search(work.descriptors, 2)
    passing = np.nonzero((distances[:, 0] < RATIO * distances[:, 1])
                         & (distances[:, 0] <= MAX_DESCRIPTOR_DISTANCE))[0]
    # one-to-one: a submission keypoint answers for one work keypoint only (ORB finds the same
    # corner at several pyramid levels; unchecked, one corner would count as many inliers)
    best_for_target: dict[int, int] = {}
    for work_point in passing.tolist():
        target_point = int(labels[work_point, 0])
        kept = best_for_target.get(target_point)
        if kept is None or distances[work_point, 0] < distances[kept, 0]:
            best_for_target[target_point] = work_point
    good = np.array(sorted(best_for_target.values()), dtype=np.int64)
    return good, labels[good, 0].astype(np.int64)


def _homography(source: Any, target: Any) -> tuple[Any, Any] | None:
    """The RANSAC geometry from work to submission and its inlier mask (None: none found)."""
    import cv2
    import numpy as np

    homography, mask = cv2.findHomography(source, target, cv2.RANSAC, 5.0, maxIters=2000,
                                          confidence=0.995)
    if homography is None or mask is None:
        return None
    # a frontal view (crop, scale, rotation) is a similarity: prefer it when it explains nearly
    # as many matches, so that a flat band of keypoints does not invent a perspective
    similarity, similar = cv2.estimateAffinePartial2D(source, target, method=cv2.RANSAC,
                                                      ransacReprojThreshold=5.0)
    if similarity is not None and similar is not None and similar.sum() >= 0.85 * mask.sum():
        return np.vstack([similarity, [0.0, 0.0, 1.0]]), similar
    return homography, mask


def _verify(query: Keypoints, query_index: Any, work: Keypoints, work_size: tuple[int, int],
            query_size: tuple[int, int]) -> Verified | None:
    """A RANSAC homography from the work to the submission, or None when there is no sane one."""
    import numpy as np

    if len(query.descriptors) < 8 or len(work.descriptors) < 8:
        return None
    good, targets = _one_to_one_matches(query_index, work)
    if len(good) < REVIEW_INLIERS:
        return None
    source = work.points[good].reshape(-1, 1, 2)
    target = query.points[targets].reshape(-1, 1, 2)
    found = _homography(source, target)
    if found is None:
        return None
    homography, mask = found
    chosen = mask.ravel().astype(bool)
    # distinct places on both sides (2-pixel cells), not keypoints
    inliers = min(len(np.unique(np.round(source.reshape(-1, 2)[chosen] / 2), axis=0)),
                  len(np.unique(np.round(target.reshape(-1, 2)[chosen] / 2), axis=0)))
    if inliers < REVIEW_INLIERS or inliers < 0.2 * len(good):
        return None
    affine = homography[:2, :2] / homography[2, 2]
    determinant = float(np.linalg.det(affine))
    if determinant <= 0:  # a mirror is no camera view (mirrors are the hash stage's)
        return None
    singular = np.linalg.svd(affine, compute_uv=False)
    scale = float(np.sqrt(determinant))
    if not 0.1 <= scale <= 10 or singular[0] / singular[1] > 3:
        return None
    bend = float(np.abs(homography[2, :2] / homography[2, 2]).max()) * max(work_size)
    if bend > 0.6:
        return None
    spread = (np.ptp(source.reshape(-1, 2)[chosen], axis=0)
              / np.maximum(np.array(work_size, np.float32), 1))
    if spread.min() < 0.05 or spread.max() < 0.2:
        return None
    modifications = _placement(homography, work_size, query_size)
    angle = float(np.degrees(np.arctan2(affine[1, 0], affine[0, 0])))
    if bend > PERSPECTIVE_NOTED:
        modifications.append(Modification("perspective"))
    elif abs(angle) > 2:
        modifications.append(rotated(angle))
    return Verified(inliers=inliers, modifications=tuple(modifications),
                    perspective=bend > PERSPECTIVE_NOTED, agreement=inliers / len(good))


def _placement(homography: Any, work_size: tuple[int, int],
               query_size: tuple[int, int]) -> list[Modification]:
    """What part of the work shows in the submission, and how large: cropped, or pasted into
    a larger picture (or neither)."""
    import cv2
    import numpy as np

    width, height = work_size
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]],
                       np.float32).reshape(-1, 1, 2)
    projected = cv2.perspectiveTransform(corners, homography).reshape(-1, 2)
    qw, qh = query_size
    inside = ((projected[:, 0] >= -0.05 * qw) & (projected[:, 0] <= 1.05 * qw)
              & (projected[:, 1] >= -0.05 * qh) & (projected[:, 1] <= 1.05 * qh))
    if not inside.all():
        return [Modification("cropped")]
    if float(cv2.contourArea(projected.astype(np.float32))) < 0.6 * qw * qh:
        return [Modification("pasted")]
    return []
