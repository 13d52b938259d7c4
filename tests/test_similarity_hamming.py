"""The compiled Hamming range search of large registries (jdzhi.similarity.hamming) against a
plain numpy popcount: the same (row, view, distance) triples, in the same order, at the edges
of the radius and of the 128-bit filter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import Invoke
from PIL import Image, ImageOps
from test_works import design

from jdzhi.home import Home
from jdzhi.similarity import hamming, work_index
from jdzhi.similarity.fingerprint import unpack_hashes
from jdzhi.similarity.hamming import HashHalves, near_hashes
from jdzhi.similarity.hash_stage import (
    COPY_DISTANCE,
    HASH_NEIGHBOURS,
    REVIEW_DISTANCE,
    hash_distances,
)
from jdzhi.similarity.work_index import HashIndex, WorkIndex, flat_index

RADIUS = REVIEW_DISTANCE


def _flipped(hash_: np.ndarray, rng: np.random.Generator, first: int, second: int) -> np.ndarray:
    """``hash_`` with ``first`` random bits of its first 128 flipped and ``second`` of its last."""
    bits = np.concatenate([rng.choice(128, size=first, replace=False),
                           128 + rng.choice(128, size=second, replace=False)])
    flipped = np.unpackbits(hash_)
    flipped[bits] ^= 1
    return np.packbits(flipped)


def _planted(seed: int, rows: int, views: int) -> tuple[np.ndarray, np.ndarray]:
    """Random hashes and query views, with hashes planted near the views: within, at and just
    beyond the radius, and within it on the first 128 bits but beyond it on all 256."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 256, size=(rows, 32), dtype=np.uint8)
    query = rng.integers(0, 256, size=(views, 32), dtype=np.uint8)
    planted = [(0, 0), (39, 0), (40, 0), (41, 0), (20, 19), (20, 20), (20, 21), (0, 40),
               (0, 41), (30, 20), (40, 1), (38, 60), (1, 39)]
    places = rng.choice(rows, size=min(rows, len(planted) * views), replace=False)
    for number, row in enumerate(places):
        first, second = planted[number % len(planted)]
        hashes[row] = _flipped(query[number // len(planted) % views], rng, first, second)
    if rows > 1:
        hashes[(places[0] + 1) % rows] = query[-1]  # near two views
    return hashes, query


def _brute_force(hashes: np.ndarray, query: np.ndarray, radius: int) -> tuple[
        list[int], list[int], list[int]]:
    """(rows, views, distances) within ``radius``, by view then row, by unpacking every bit."""
    rows, views, distances = [], [], []
    for view, wanted in enumerate(query):
        whole = np.unpackbits(hashes ^ wanted, axis=1).sum(axis=1)
        for row in np.nonzero(whole <= radius)[0]:
            rows.append(int(row))
            views.append(view)
            distances.append(int(whole[row]))
    return rows, views, distances


@pytest.mark.parametrize(("seed", "rows", "threads", "piece_rows"), [
    (1, 3_000, 1, hamming.PIECE_ROWS),  # one piece of several chunks, the last one short
    (2, 3_000, 2, 1_100),  # pieces that split chunks, shared by two threads
    (3, 700, 2, 64),  # more pieces than threads, each shorter than a chunk
    (4, 1, 2, hamming.PIECE_ROWS),
])
def test_range_search_finds_exactly_what_a_plain_popcount_finds(
        monkeypatch: pytest.MonkeyPatch, seed: int, rows: int, threads: int,
        piece_rows: int) -> None:
    monkeypatch.setattr(hamming, "PIECE_ROWS", piece_rows)
    hashes, query = _planted(seed, rows, 20)
    expected = _brute_force(hashes, query, RADIUS)
    found = near_hashes(HashHalves.of(hashes), query, RADIUS, threads)
    assert tuple(column.tolist() for column in found) == expected
    if rows > 1:
        distances = set(expected[2])
        assert {0, 39, 40} <= distances and 41 not in distances
    else:
        assert expected == ([0], [0], [0])


def test_range_search_at_every_radius_and_with_more_hits_than_its_first_arrays_hold(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hamming, "FIRST_CAPACITY", 3)  # every piece with more is searched again
    hashes, query = _planted(5, 2_000, 4)
    hashes[100:140] = query[1]  # 40 copies of one view
    halves = HashHalves.of(hashes)
    for radius in (0, 1, 31, 40, 41, 64, 128, 256):
        expected = _brute_force(hashes, query, radius)
        found = near_hashes(halves, query, radius, threads=2)
        assert tuple(column.tolist() for column in found) == expected, radius
    assert len(near_hashes(halves, query, 0)[0]) >= 40


def test_range_search_of_no_hashes_finds_nothing() -> None:
    empty = np.zeros((0, 32), np.uint8)
    found = near_hashes(HashHalves.of(empty), np.zeros((20, 32), np.uint8), RADIUS, threads=2)
    assert [len(column) for column in found] == [0, 0, 0]


def _work_index(hashes: np.ndarray) -> WorkIndex:
    works = len(hashes) // 2
    return WorkIndex(ids=np.arange(1_000, 1_000 + works, dtype=np.int64),
                     hash_index=HashIndex.of(hashes, threads=2),
                     feature_index=flat_index(np.zeros((0, 32), np.uint8)),
                     details=lambda wanted: {})


def test_hash_stage_above_the_nearest_search_threshold_equals_a_plain_popcount(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(work_index, "NEAREST_HASH_WORKS", 100)
    monkeypatch.setattr(hamming, "PIECE_ROWS", 1_000)
    planted, query = _planted(6, 4_000, 20)
    hashes = unpack_hashes(planted.tobytes())  # read-only, as load_index reads them
    index = _work_index(hashes)
    assert index.hash_index.halves is not None
    expected: dict[int, tuple[int, int]] = {}
    for row, view, distance in zip(*_brute_force(hashes, query, RADIUS), strict=True):
        work = 1_000 + row // 2
        if work not in expected or distance < expected[work][0]:
            expected[work] = (distance, view)
    found = hash_distances(index, query)
    assert found == expected and list(found) == list(expected)
    assert sorted({distance for distance, _ in found.values()})[-1] == 40


def test_hash_stage_below_the_threshold_equals_a_plain_popcount() -> None:
    # 24 hashes: every one is among the nearest HASH_NEIGHBOURS of every view
    hashes, query = _planted(7, HASH_NEIGHBOURS, 20)
    index = _work_index(hashes)
    assert index.hash_index.halves is None
    expected = {1_000 + row // 2: min((int(np.unpackbits(hashes[pair] ^ q).sum()), view)
                                      for pair in (row, row + 1) for view, q in enumerate(query))
                for row in range(0, len(hashes), 2)}
    assert hash_distances(index, query) == expected
    assert 0 in {distance for distance, _ in expected.values()}


def test_screening_through_the_range_search_flags_what_the_nearest_search_flags(
        cli: Invoke, initialized: Home, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    works = tmp_path / "works"
    works.mkdir()
    for number in range(1, 4):
        result = cli("works", "register", str(design(works / f"{number}.png", number)),
                     "--reg-no", f"国作登字-2024-F-{number:08d}", "--title", f"作品{number}",
                     "--owner", "测试")
        assert result.exit_code == 0, result.output
    original = Image.open(works / "2.png").convert("RGB")
    submissions = tmp_path / "in"
    submissions.mkdir()
    ImageOps.mirror(original).save(submissions / "a-mirrored.png")
    original.rotate(90, expand=True).save(submissions / "b-rotated.png")
    design(submissions / "c-other.png", 77)

    def flagged() -> list[tuple[str, list[dict[str, object]]]]:
        result = cli("works", "screen", str(submissions), "--json")
        assert result.exit_code == 1, result.output
        return [(entry["verdict"], [match for match in entry["matches"]
                                    if match["distance"] <= RADIUS or match["inliers"]])
                for entry in json.loads(result.stdout)]

    nearest = flagged()
    monkeypatch.setattr(work_index, "NEAREST_HASH_WORKS", 0)  # every registry is large now
    assert flagged() == nearest
    assert [verdict for verdict, _ in nearest] == ["copy", "copy", "clear"]
    assert nearest[0][1][0]["distance"] <= COPY_DISTANCE


def test_the_compiled_loop_is_cached_in_jdzhis_cache_folder(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    search = ("import numpy as np\n"
              "from jdzhi.similarity.hamming import HashHalves, kernel, near_hashes\n"
              "hashes = np.random.default_rng(1).integers(0, 256, (64, 32), np.uint8)\n"
              "assert near_hashes(HashHalves.of(hashes), hashes[:2], 40)[0].tolist() == [0, 1]\n"
              "stats = kernel().near_rows.stats\n"
              "print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))\n")
    env = {name: value for name, value in os.environ.items() if not name.startswith("NUMBA_")}
    env["JDZHI_CACHE_DIR"] = str(tmp_path / "cache")

    def run() -> list[str]:
        done = subprocess.run([sys.executable, "-c", search], env=env, capture_output=True,
                              text=True, timeout=300, check=True)
        return done.stdout.split()

    assert run() == ["0", "1"]  # compiled, and saved in the cache folder
    assert list((tmp_path / "cache" / "numba").rglob("*.nbi"))
    assert run() == ["1", "0"]  # loaded from it
