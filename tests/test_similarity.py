"""`jdzhi works screen`: verdicts on modified copies (generated and real photos), the JSON
contract, the HTML report and bad input in a batch."""

from __future__ import annotations

import base64
import json
import random
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import Invoke
from PIL import Image, ImageOps
from test_works import design

from jdzhi.home import Home

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.screen_modifications import MODIFICATIONS


def _register(cli: Invoke, image: Path, number: int, title: str) -> None:
    result = cli("works", "register", str(image), "--reg-no", f"国作登字-2024-F-{number:08d}",
                 "--title", title, "--owner", "测试")
    assert result.exit_code == 0, result.output


@pytest.fixture
def registered(cli: Invoke, initialized: Home, tmp_path: Path) -> Path:
    """Three generated works registered; returns their folder."""
    folder = tmp_path / "works"
    folder.mkdir()
    for number in range(1, 4):
        _register(cli, design(folder / f"{number}.png", number), number, f"作品{number}")
    return folder


def test_modified_copies_are_flagged_with_the_right_work_and_modification(
        cli: Invoke, registered: Path, tmp_path: Path) -> None:
    original = Image.open(registered / "2.png").convert("RGB")
    submissions = tmp_path / "in"
    submissions.mkdir()
    ImageOps.mirror(original).save(submissions / "a-mirrored.png")
    original.rotate(90, expand=True).save(submissions / "b-rotated.png")
    original.crop((30, 20, 290, 230)).save(submissions / "c-cropped.png")
    design(submissions / "d-other.png", 77)
    result = cli("works", "screen", str(submissions), "--json", "--top", "2")
    assert result.exit_code == 1, result.output
    screened = json.loads(result.stdout)
    assert [Path(s["image"]).name for s in screened] == [
        "a-mirrored.png", "b-rotated.png", "c-cropped.png", "d-other.png"]
    for entry in screened[:3]:
        assert entry["verdict"] == "copy", entry
        assert entry["matches"][0]["reg_no"] == "国作登字-2024-F-00000002"
        assert set(entry["matches"][0]) >= {"reg_no", "title", "distance", "score"}
        assert 0 <= entry["matches"][0]["score"] <= 1
        assert len(entry["matches"]) <= 2
    assert screened[0]["matches"][0]["modification"] == "mirrored"
    assert "rotated 90°" in screened[1]["matches"][0]["modification"]
    assert "cropped" in screened[2]["matches"][0]["modification"]
    assert screened[3]["verdict"] == "clear"
    scores = [m["score"] for m in screened[3]["matches"]]
    assert scores == sorted(scores, reverse=True)


def test_all_clear_exits_zero_and_prints_verdicts(cli: Invoke, registered: Path,
                                                  tmp_path: Path) -> None:
    other = design(tmp_path / "other.png", 55)
    result = cli("works", "screen", str(other))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert re.search(r"clear\s+.*other\.png", result.stdout)


def test_a_bad_file_is_reported_and_the_batch_goes_on(cli: Invoke, registered: Path,
                                                      tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    copy = tmp_path / "copy.png"
    ImageOps.mirror(Image.open(registered / "1.png")).save(copy)
    result = cli("works", "screen", str(bad), str(copy), "--json")
    assert result.exit_code == 1  # a copy outranks an unreadable file (README: exit codes)
    first, second = json.loads(result.stdout)
    assert first["verdict"] == "error" and first["error"].startswith("damaged or truncated")
    assert first["matches"] == []
    assert second["verdict"] == "copy"


def test_missing_input_and_empty_registry(cli: Invoke, initialized: Home,
                                          tmp_path: Path) -> None:
    missing = cli("works", "screen", str(tmp_path / "nope.png"))
    assert missing.exit_code == 3 and "no such file or folder" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = cli("works", "screen", str(tmp_path / "empty"))
    assert empty.exit_code == 3 and "no images to screen" in empty.stderr
    lonely = cli("works", "screen", str(design(tmp_path / "x.png", 4)), "--json")
    assert lonely.exit_code == 0
    assert json.loads(lonely.stdout) == [
        {"image": str(tmp_path / "x.png"), "verdict": "clear", "matches": []}]


def test_report_embeds_thumbnails_beside_the_matches(cli: Invoke, registered: Path,
                                                     tmp_path: Path) -> None:
    copy = tmp_path / "copy.png"
    ImageOps.mirror(Image.open(registered / "3.png")).save(copy)
    report = tmp_path / "report.html"
    result = cli("works", "screen", str(copy), "--report", str(report))
    assert result.exit_code == 1
    page = report.read_text(encoding="utf-8")
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")
    thumbnails = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', page)
    assert len(thumbnails) >= 2  # the submission and at least its match
    for encoded in thumbnails:
        from io import BytesIO

        assert Image.open(BytesIO(base64.b64decode(encoded))).size[0] <= 160
    assert "国作登字-2024-F-00000003" in page and "mirrored" in page and "#c62828" in page
    again = cli("works", "screen", str(copy), "--report", str(report))
    assert again.exit_code == 5 and "exists" in again.stderr
    assert cli("works", "screen", str(copy), "--report", str(report), "--force").exit_code == 1



def test_report_header_legend_matched_work_and_no_matches_for_a_clear_submission(
        registered: Path, initialized: Home, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from jdzhi.registry.db import open_registry
    from jdzhi.similarity.report import render_report
    from jdzhi.similarity.screen import screen_paths

    monkeypatch.setenv("JDZHI_ACTOR", "officer-wang")
    monkeypatch.setenv("JDZHI_NOW", "2026-03-12T10:00:00+08:00")
    copy, other = tmp_path / "copy.png", design(tmp_path / "other.png", 55)
    ImageOps.mirror(Image.open(registered / "3.png")).save(copy)
    db = open_registry(initialized)
    try:
        results = screen_paths(db, [copy, other], top=3)
        assert [r.verdict for r in results] == ["copy", "clear"]
        assert len(results[0].matches) >= 2  # else top=1 below would show nothing new
        page = render_report(db, results, top=1)
        every = render_report(db, results)
    finally:
        db.close()
    assert "officer-wang" in page and "2026-03-12T02:00:00Z" in page
    assert str(initialized.db_path) in page and "3 registered works" in page
    assert "2: 1 copy · 0 review · 1 clear · 0 error" in page
    assert "Distance</b>: PDQ" in page and "Score</b>" in page  # the legend
    copy_part, clear_part = page.split("other.png", 1)
    # the copy: its matched work singled out, and only the top 1 of its matches shown
    assert copy_part.count("<figure class=matched>") == 1
    assert copy_part.count("<figure") == 2  # the submission and its matched work
    assert every.split("other.png", 1)[0].count("<figure") == 1 + len(results[0].matches)
    assert '<b class=reg>国作登字-2024-F-00000003</b>' in copy_part
    assert ".reg{white-space:nowrap}" in page
    # the clear submission: its own picture, no works
    assert clear_part.count("<figure") == 1 and "No registered work is close" in clear_part


def test_each_modification_is_named_once() -> None:
    from jdzhi.similarity.modifications import Modification, describe, rotated

    mirrored = Modification("mirrored")
    assert describe([]) is None
    assert describe([rotated(-8.2), rotated(7), Modification("recoloured")]) == (
        "rotated 8°, recoloured")
    assert describe([mirrored, mirrored, Modification("cropped")]) == "mirrored, cropped"
    assert describe([Modification("pasted"), Modification("perspective")]) == (
        "pasted into a larger picture, seen in perspective")


def test_real_photos_copies_and_innocents(cli: Invoke, initialized: Home, tmp_path: Path,
                                          porcelain_dir: Path) -> None:
    photos = sorted(porcelain_dir.glob("*.jpg"))
    works, innocents = photos[:6], photos[6:9]
    for number, photo in enumerate(works, start=1):
        _register(cli, photo, number, photo.stem)
    submissions = tmp_path / "in"
    submissions.mkdir()
    rng = random.Random(5)
    kinds = ("crop 80-90%", "mirror", "recolour", "border", "re-photograph", "product listing")
    expected = {}
    for number, (kind, photo) in enumerate(zip(kinds, works, strict=True), start=1):
        name = f"copy-{number}.jpg"
        MODIFICATIONS[kind](Image.open(photo).convert("RGB"), rng).save(submissions / name)
        expected[name] = f"国作登字-2024-F-{number:08d}"
    for photo in innocents:
        MODIFICATIONS["heavy JPEG"](Image.open(photo).convert("RGB"), rng).save(
            submissions / f"innocent-{photo.stem}.jpg")
    result = cli("works", "screen", str(submissions), "--json")
    assert result.exit_code == 1, result.output
    for entry in json.loads(result.stdout):
        name = Path(entry["image"]).name
        if name in expected:
            assert entry["verdict"] in ("copy", "review"), entry
            assert entry["matches"][0]["reg_no"] == expected[name], entry
        else:
            assert entry["verdict"] == "clear", entry


def test_hash_search_matches_a_plain_popcount() -> None:
    from jdzhi.similarity.fingerprint import Keypoints
    from jdzhi.similarity.hash_stage import hash_distances
    from jdzhi.similarity.work_index import build_index

    rng = np.random.default_rng(3)
    works = 6
    hashes = rng.integers(0, 256, size=(2 * works, 32), dtype=np.uint8)
    hashes[3] = ~hashes[2]  # work 1: its two views differ in all 256 bits
    query = rng.integers(0, 256, size=(3, 32), dtype=np.uint8)
    query[1] = hashes[7]
    query[2] = hashes[2] ^ np.uint8(1)  # 32 bits from work 1's first view
    empty = Keypoints(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8))
    index = build_index(range(works), [str(i) for i in range(works)], ["t"] * works,
                        np.zeros((works, 2), np.float32), np.ones((works, 2), np.int32),
                        hashes, [empty] * works)
    found = hash_distances(index, query)
    assert set(found) == set(range(works))
    for work in range(works):
        expected = min(
            (int(np.unpackbits(hashes[2 * work + v] ^ q).sum()), view)
            for v in range(2) for view, q in enumerate(query))
        assert found[work] == expected
    assert found[3] == (0, 1) and found[1] == (32, 2)


def test_hash_search_of_a_large_registry_finds_every_hash_within_review_distance(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from jdzhi.similarity import hamming, work_index
    from jdzhi.similarity.hash_stage import REVIEW_DISTANCE, hash_distances
    from jdzhi.similarity.work_index import HashIndex, WorkIndex, flat_index

    monkeypatch.setattr(work_index, "NEAREST_HASH_WORKS", 10)  # searched by halves from 11 works
    monkeypatch.setattr(hamming, "PIECE_ROWS", 64)  # in 13 pieces, the last one short
    rng = np.random.default_rng(4)
    works = 400
    hashes = rng.integers(0, 256, size=(2 * works, 32), dtype=np.uint8)
    query = rng.integers(0, 256, size=(6, 32), dtype=np.uint8)
    for view, (row, flips) in enumerate([(9, 40), (20, 41), (301, 0), (302, 31), (799, 20)]):
        bits = rng.choice(256, size=flips, replace=False)
        query[view] = hashes[row]
        for bit in bits:
            query[view, bit // 8] ^= np.uint8(1 << (bit % 8))
    hashes[11] = query[0]  # work 5 also holds view 0 itself
    index = WorkIndex(ids=np.arange(100, 100 + works, dtype=np.int64),
                      hash_index=HashIndex.of(hashes, threads=2),
                      feature_index=flat_index(np.zeros((0, 32), np.uint8)),
                      details=lambda wanted: {})
    assert index.hash_index.halves is not None and index.hash_index.flat is None
    expected = {}
    for row in range(2 * works):
        for view, q in enumerate(query):
            distance = int(np.unpackbits(hashes[row] ^ q).sum())
            work = 100 + row // 2
            if distance <= REVIEW_DISTANCE and (
                    work not in expected or distance < expected[work][0]):
                expected[work] = (distance, view)
    assert hash_distances(index, query) == expected
    assert expected[104] == (40, 0) and expected[105] == (0, 0) and expected[250] == (0, 2)
    assert 110 not in expected  # 41 bits away: beyond review distance
