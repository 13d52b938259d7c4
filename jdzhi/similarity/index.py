"""The keypoint retrieval index: every work's strongest keypoints in one FAISS binary index,
kept in a file beside the registry database (in the home folder for PostgreSQL) and in step with
``works register/import/remove``.

Rebuilding the index from SQLite on every screen reads every work's keypoints (about 20 KB a
work); at 100,000 works that is seconds of work before the first submission. So the index lives in
a file named after the registry's works stamp (``works_state``, a fresh random value after every
change to ``works`` or ``work_features``, set by triggers whatever program makes the change): a
file is only ever used for the very state it was built from. A missing, stale or unreadable file
is rebuilt from SQLite (and saved when the folder is writable), never trusted.

Only the :data:`RETRIEVAL_KEYPOINTS` strongest keypoints of a work go into the index (they find
candidate works); the geometric check of a candidate reads all its keypoints from SQLite. Labels
are ``work id << KEYPOINT_BITS | keypoint number``. Small registries get an exact index; beyond
:data:`EXACT_LIMIT` descriptors, inverted lists whose cells are centred on sampled descriptors
(no k-means: a rebuild stays a linear pass, and new works are added without retraining), found
through a second, coarse level of cells when there are many.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import InvalidInput
from jdzhi.files import replace_atomically

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from jdzhi.registry.db import Database

__all__ = [
    "CELL_SIZE",
    "DESCRIPTOR_BITS",
    "EXACT_LIMIT",
    "FLAT_QUANTIZER_LIMIT",
    "KEYPOINT_BITS",
    "PROBED_CELLS",
    "RETRIEVAL_KEYPOINTS",
    "build",
    "index_file",
    "labels_of",
    "load",
    "rebuild",
    "retrieval_descriptors",
    "stamp_of",
    "update",
    "work_of",
]

#: keypoints per work in the retrieval index (strongest first; see fingerprint.orb_keypoints)
RETRIEVAL_KEYPOINTS = 64
#: low bits of a label that number the keypoint within its work
KEYPOINT_BITS = 10
#: descriptors up to which the index is exact (a linear scan: 250 query descriptors against
#: 20,000 cost a few ms); inverted lists beyond
EXACT_LIMIT = 20_000
#: descriptors per inverted-list cell, on average, and cells probed per search
CELL_SIZE = 400
PROBED_CELLS = 8
#: beyond this many cells, the cell of a descriptor is looked up through a second, coarse level
#: of cells (one comparison per cell would make a rebuild at 100,000 works take minutes)
FLAT_QUANTIZER_LIMIT = 1_024
DESCRIPTOR_BITS = 256
_SUFFIX = ".faiss"


def labels_of(work_id: int, count: int) -> npt.NDArray[np.int64]:
    import numpy as np

    return (np.int64(work_id) << KEYPOINT_BITS) + np.arange(count, dtype=np.int64)


def work_of(labels: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The work id of each label (-1 stays -1: FAISS's "no neighbour")."""
    import numpy as np

    return np.where(labels >= 0, labels >> KEYPOINT_BITS, -1)


def retrieval_descriptors(descriptors: bytes) -> bytes:
    """The part of a work's stored descriptors (strongest first) that goes into the index."""
    return descriptors[:RETRIEVAL_KEYPOINTS * 32]


def build(codes: npt.NDArray[np.uint8], labels: npt.NDArray[np.int64]) -> Any:
    """A FAISS binary index of ``codes`` with ``labels``: exact up to :data:`EXACT_LIMIT`,
    inverted lists beyond."""
    import faiss
    import numpy as np

    index: Any
    if len(codes) <= EXACT_LIMIT:
        index = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(DESCRIPTOR_BITS))
    else:
        # cells centred on sampled descriptors: no k-means, so a rebuild stays a linear pass
        rng = np.random.default_rng(0)
        cells = max(1, len(codes) // CELL_SIZE)
        centres = np.ascontiguousarray(codes[np.sort(rng.choice(len(codes), cells,
                                                                replace=False))])
        quantizer = _cells_index(centres, rng)
        index = faiss.IndexBinaryIVF(quantizer, DESCRIPTOR_BITS, cells)
        index.is_trained = True
        index.nprobe = PROBED_CELLS
    if len(codes):
        index.add_with_ids(np.ascontiguousarray(codes), np.ascontiguousarray(labels))
    return index


def _cells_index(centres: npt.NDArray[np.uint8], rng: np.random.Generator) -> Any:
    """The index that finds a descriptor's nearest cell centres: exact for a few centres, else
    itself inverted lists over about sqrt(cells) coarse cells."""
    import faiss
    import numpy as np

    if len(centres) <= FLAT_QUANTIZER_LIMIT:
        flat = faiss.IndexBinaryFlat(DESCRIPTOR_BITS)
        flat.add(centres)
        return flat
    coarse = int(np.sqrt(len(centres)))
    top = faiss.IndexBinaryFlat(DESCRIPTOR_BITS)
    top.add(np.ascontiguousarray(centres[np.sort(rng.choice(len(centres), coarse,
                                                            replace=False))]))
    quantizer = faiss.IndexBinaryIVF(top, DESCRIPTOR_BITS, coarse)
    quantizer.is_trained = True
    quantizer.nprobe = PROBED_CELLS
    quantizer.add(centres)
    return quantizer


def _outgrown(index: Any) -> bool:
    """An exact index past :data:`EXACT_LIMIT`, or cells grown four times their size by
    additions: rebuilt so that a search keeps its cost."""
    import faiss

    if isinstance(index, faiss.IndexBinaryIVF):
        return bool(index.ntotal > 4 * CELL_SIZE * index.nlist)
    return bool(index.ntotal > EXACT_LIMIT)


def _registry_file(db: Database) -> Path | None:
    """What the index files are named after: the SQLite file, or for a registry on a database
    server ``database`` in the home folder (None: a registry in memory keeps no files)."""
    if db.file is not None or db.home is None:
        return db.file
    return db.home.path / "database"


def index_file(db: Database, stamp: bytes) -> Path | None:
    """Where the index of the works at ``stamp`` is kept (None for an in-memory registry)."""
    registry = _registry_file(db)
    if registry is None:
        return None
    return registry.with_name(f"{registry.name}.works-{stamp.hex()}{_SUFFIX}")


def stamp_of(db: Database) -> bytes:
    return bytes(db.execute("SELECT stamp FROM works_state WHERE id = 1").fetchone()[0])


def _read(path: Path | None) -> Any | None:
    import faiss

    if path is None or not path.is_file():
        return None
    try:
        return faiss.read_index_binary(str(path))
    except RuntimeError:  # damaged or truncated: rebuilt instead
        return None


def _save(db: Database, index: Any, stamp: bytes) -> None:
    """Write the index for ``stamp`` (complete or not at all) and drop older files; a folder
    that cannot be written only costs a rebuild next time."""
    import faiss

    path = index_file(db, stamp)
    if path is None:
        return
    try:
        replace_atomically(path, faiss.serialize_index_binary(index).tobytes(), durable=False)
    except (InvalidInput, RuntimeError):
        return
    registry = _registry_file(db)
    assert registry is not None
    for old in registry.parent.glob(f"{registry.name}.works-*{_SUFFIX}"):
        if old != path:
            with contextlib.suppress(OSError):
                old.unlink()


def _from_rows(rows: Iterable[tuple[int, bytes]]) -> Any:
    import numpy as np

    codes: list[npt.NDArray[np.uint8]] = []
    labels: list[npt.NDArray[np.int64]] = []
    for work_id, descriptors in rows:
        kept = np.frombuffer(retrieval_descriptors(descriptors), dtype=np.uint8).reshape(-1, 32)
        codes.append(kept)
        labels.append(labels_of(work_id, len(kept)))
    return build(np.concatenate(codes) if codes else np.zeros((0, 32), np.uint8),
                 np.concatenate(labels) if labels else np.zeros(0, np.int64))


def rebuild(db: Database) -> Any:
    """The index of every registered work, read from SQLite (one consistent snapshot), saved
    beside the registry for its stamp."""
    db.execute("BEGIN")
    try:
        stamp = stamp_of(db)
        index = _from_rows((int(row[0]), bytes(row[1])) for row in db.execute(
            "SELECT work_id, descriptors FROM work_features ORDER BY work_id"))
    finally:
        db.execute("COMMIT")
    _save(db, index, stamp)
    return index


def load(db: Database, stamp: bytes) -> Any:
    """The index of the works at ``stamp`` (the caller read it in the snapshot it screens
    against): the file when there is one for that very stamp, else rebuilt from SQLite."""
    index = _read(index_file(db, stamp))
    if index is not None:
        return index
    index = _from_rows((int(row[0]), bytes(row[1])) for row in db.execute(
        "SELECT work_id, descriptors FROM work_features ORDER BY work_id"))
    _save(db, index, stamp)
    return index


def update(db: Database, before: bytes, after: bytes,
           added: Sequence[tuple[int, bytes]] = (), removed: Sequence[int] = ()) -> None:
    """Bring the index file from the works at ``before`` to those at ``after`` (a change just
    committed): in place when the file for ``before`` is there, else rebuilt. Never raises for
    the file's sake: a file left behind is only ever used for its own stamp."""
    with contextlib.suppress(db.driver_error, RuntimeError, OSError):
        _update(db, before, after, added, removed)


def _update(db: Database, before: bytes, after: bytes,
            added: Sequence[tuple[int, bytes]], removed: Sequence[int]) -> None:
    import faiss
    import numpy as np

    if _registry_file(db) is None:
        return
    index = _read(index_file(db, before))
    if index is None:
        rebuild(db)
        return
    for work_id in removed:
        index.remove_ids(faiss.IDSelectorRange(int(work_id) << KEYPOINT_BITS,
                                               (int(work_id) + 1) << KEYPOINT_BITS))
    for work_id, descriptors in added:
        codes = np.frombuffer(retrieval_descriptors(descriptors), np.uint8).reshape(-1, 32)
        if len(codes):
            index.add_with_ids(np.ascontiguousarray(codes), labels_of(work_id, len(codes)))
    if _outgrown(index):
        rebuild(db)
        return
    _save(db, index, after)
