"""The keypoint retrieval index file beside the registry: kept in step with register and remove,
and never trusted when it does not belong to the registry's current works (stale, damaged, a
change made behind jdzhi's back, a reused work id)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import BOTH_BACKENDS, Invoke
from test_works import REG_1, REG_2, design, register

from jdzhi.home import Home

pytestmark = BOTH_BACKENDS

REG_3 = "国作登字-2024-F-00000003"


@pytest.fixture
def db(initialized: Home) -> Iterator[object]:
    from jdzhi.registry.db import open_registry

    database = open_registry(initialized)
    yield database
    database.close()


def index_files(home: Home) -> list[Path]:
    return sorted(home.path.glob("*.works-*.faiss"))


def stored_descriptors(db: object, reg_no: str) -> np.ndarray:
    from jdzhi.similarity.index import RETRIEVAL_KEYPOINTS

    row = db.execute(  # type: ignore[attr-defined]
        "SELECT f.descriptors FROM work_features f JOIN works w ON w.id = f.work_id "
        "WHERE w.reg_no = ?", [reg_no]).fetchone()
    return np.frombuffer(row[0], np.uint8).reshape(-1, 32)[:RETRIEVAL_KEYPOINTS]


def indexed_works(db: object) -> dict[int, int]:
    """Work id -> descriptors of the index that the screening would load now."""
    from jdzhi.similarity.index import load, stamp_of, work_of

    index = load(db, stamp_of(db))  # type: ignore[arg-type]
    if index.ntotal == 0:
        return {}
    probe = np.zeros((1, 32), np.uint8)
    _, labels = index.search(probe, index.ntotal)
    works, counts = np.unique(work_of(labels[0]), return_counts=True)
    return {int(w): int(c) for w, c in zip(works, counts, strict=True) if w >= 0}


def finds(db: object, reg_no: str) -> bool:
    """The index answers each of the work's own retrieval descriptors with that very work."""
    from jdzhi.similarity.index import load, stamp_of, work_of

    work_id = db.execute("SELECT id FROM works WHERE reg_no = ?",  # type: ignore[attr-defined]
                         [reg_no]).fetchone()[0]
    index = load(db, stamp_of(db))  # type: ignore[arg-type]
    distances, labels = index.search(stored_descriptors(db, reg_no), 1)
    return bool((distances[:, 0] == 0).all() and (work_of(labels[:, 0]) == work_id).all())


def test_register_and_remove_keep_one_current_index_file(cli: Invoke, initialized: Home,
                                                         db: object, tmp_path: Path) -> None:
    from jdzhi.similarity.index import index_file, stamp_of

    assert register(cli, design(tmp_path / "a.png", 1), REG_1).exit_code == 0
    assert register(cli, design(tmp_path / "b.png", 2), REG_2).exit_code == 0
    assert index_files(initialized) == [index_file(db, stamp_of(db))]  # type: ignore[arg-type]
    assert finds(db, REG_1) and finds(db, REG_2)
    assert cli("works", "remove", REG_1, "--reason", "registered in error").exit_code == 0
    assert index_files(initialized) == [index_file(db, stamp_of(db))]  # type: ignore[arg-type]
    assert list(indexed_works(db)) == [2]


def test_a_change_behind_jdzhis_back_makes_the_file_stale(cli: Invoke, initialized: Home,
                                                         db: object, tmp_path: Path) -> None:
    assert register(cli, design(tmp_path / "a.png", 1), REG_1).exit_code == 0
    assert register(cli, design(tmp_path / "b.png", 2), REG_2).exit_code == 0
    (old_file,) = index_files(initialized)
    db.execute("DELETE FROM work_features WHERE work_id = 1")  # type: ignore[attr-defined]
    db.execute("DELETE FROM works WHERE id = 1")  # type: ignore[attr-defined]
    assert list(indexed_works(db)) == [2]  # rebuilt from SQLite, not read from the old file
    assert old_file not in index_files(initialized)


@pytest.mark.sqlite_only  # SQLite gives a removed last id again; PostgreSQL's identity never does
def test_a_reused_work_id_gets_its_own_keypoints(cli: Invoke, initialized: Home, db: object,
                                                 tmp_path: Path) -> None:
    assert register(cli, design(tmp_path / "a.png", 1), REG_1).exit_code == 0
    assert register(cli, design(tmp_path / "b.png", 2), REG_2).exit_code == 0
    assert cli("works", "remove", REG_2, "--reason", "withdrawn").exit_code == 0
    assert register(cli, design(tmp_path / "c.png", 3), REG_3).exit_code == 0
    assert db.execute("SELECT id FROM works WHERE reg_no = ?",  # type: ignore[attr-defined]
                      [REG_3]).fetchone()[0] == 2
    assert finds(db, REG_1) and finds(db, REG_3)
    assert sorted(indexed_works(db)) == [1, 2]


def test_a_damaged_or_missing_file_is_rebuilt(cli: Invoke, initialized: Home, db: object,
                                              tmp_path: Path) -> None:
    assert register(cli, design(tmp_path / "a.png", 1), REG_1).exit_code == 0
    (path,) = index_files(initialized)
    path.write_bytes(path.read_bytes()[:100])  # truncated
    assert finds(db, REG_1)
    assert path.stat().st_size > 100  # written again, whole
    path.unlink()
    assert finds(db, REG_1)
    assert index_files(initialized) == [path]


def test_screening_through_the_file_finds_a_cropped_copy(cli: Invoke, initialized: Home,
                                                         tmp_path: Path) -> None:
    import json

    from PIL import Image

    work = design(tmp_path / "a.png", 1, size=(640, 520))
    assert register(cli, work, REG_1).exit_code == 0
    assert register(cli, design(tmp_path / "b.png", 2, size=(640, 520)), REG_2).exit_code == 0
    assert index_files(initialized)
    cropped = tmp_path / "cropped.png"
    Image.open(work).crop((60, 40, 560, 440)).save(cropped)
    result = cli("works", "screen", str(cropped), "--json")
    (entry,) = json.loads(result.stdout)
    assert entry["verdict"] == "copy", entry
    assert entry["matches"][0]["reg_no"] == REG_1
    assert "keypoints" in entry["matches"][0]["evidence"]


def test_inverted_lists_find_every_indexed_descriptor_after_a_file_round_trip(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import faiss

    from jdzhi.similarity import index as retrieval

    # the sizes where a registry of about 300 and of 100,000 works changes index, scaled down
    monkeypatch.setattr(retrieval, "EXACT_LIMIT", 1_000)
    monkeypatch.setattr(retrieval, "CELL_SIZE", 20)
    monkeypatch.setattr(retrieval, "FLAT_QUANTIZER_LIMIT", 64)
    rng = np.random.default_rng(5)
    for count in (500, 2_000, 8_000):
        codes = rng.integers(0, 256, size=(count, 32), dtype=np.uint8)
        labels = np.concatenate([retrieval.labels_of(w, 50) for w in range(count // 50)])
        built = retrieval.build(codes, labels)
        assert isinstance(built, faiss.IndexBinaryIVF) == (count > 1_000)
        path = tmp_path / f"{count}.faiss"
        faiss.write_index_binary(built, str(path))
        index = faiss.read_index_binary(str(path))
        distances, found = index.search(codes, 1)
        assert (distances[:, 0] == 0).all() and (found[:, 0] == labels).all()
        assert (retrieval.work_of(found[:, 0]) == np.arange(count) // 50).all()
        # a removed work leaves no descriptor behind, the others stay
        index.remove_ids(faiss.IDSelectorRange(3 << retrieval.KEYPOINT_BITS,
                                               4 << retrieval.KEYPOINT_BITS))
        assert index.ntotal == count - 50
        _, found = index.search(codes, 1)
        assert 3 not in set(retrieval.work_of(found[:, 0]).tolist())
        assert (found[:150, 0] == labels[:150]).all() and (found[200:, 0] == labels[200:]).all()


def test_an_exact_index_outgrown_by_registrations_is_rebuilt_as_inverted_lists(
        cli: Invoke, initialized: Home, db: object, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import faiss

    from jdzhi.similarity import index as retrieval

    monkeypatch.setattr(retrieval, "EXACT_LIMIT", 100)  # one work's 64 keypoints fit, two not
    monkeypatch.setattr(retrieval, "CELL_SIZE", 16)
    assert register(cli, design(tmp_path / "a.png", 1), REG_1).exit_code == 0
    (path,) = index_files(initialized)
    assert not isinstance(faiss.read_index_binary(str(path)), faiss.IndexBinaryIVF)
    assert register(cli, design(tmp_path / "b.png", 2), REG_2).exit_code == 0
    (path,) = index_files(initialized)
    assert isinstance(faiss.read_index_binary(str(path)), faiss.IndexBinaryIVF)
    assert finds(db, REG_1) and finds(db, REG_2)
