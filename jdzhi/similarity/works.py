"""Registering protected works: one image or a whole CSV, all-or-nothing, audited.

Every input is checked (registration number, texts, the image itself) and fingerprinted before
anything is written; the rows then go in one transaction with one audit entry each.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import Conflict, InvalidInput, NotFound
from jdzhi.inputs import Encoding, check_text, read_csv
from jdzhi.similarity.fingerprint import WorkFingerprint

if TYPE_CHECKING:
    from jdzhi.registry.db import Database

__all__ = [
    "CSV_COLUMNS",
    "MAX_TEXT",
    "PROVINCES",
    "REG_NO_PATTERN",
    "ImportRows",
    "PreparedWork",
    "Work",
    "WorkRequest",
    "check_reg_no",
    "get_work",
    "import_works",
    "list_works",
    "make_request",
    "prepare",
    "prepare_all",
    "read_import_csv",
    "register_prepared",
    "register_work",
    "remove_work",
    "work_thumbnail",
]

#: provinces' one-character abbreviations that head a provincial registration number
PROVINCES = "京津沪渝冀晋辽吉黑苏浙皖闽赣鲁豫鄂湘粤琼川贵黔云滇陕秦甘陇青台蒙桂藏宁新港澳"
#: ``国作登字-2024-F-00012345`` (national) or ``赣作登字-2024-F-00012345`` (provincial);
#: the letter is the kind of work (F: fine art), A to L in the registration rules
REG_NO_PATTERN = re.compile(rf"^[国{PROVINCES}]作登字-(\d{{4}})-([A-L])-(\d{{8}})$")
CSV_COLUMNS = ("image", "reg_no", "title", "owner", "creation_date")
MAX_TEXT = 200


@dataclass(frozen=True)
class Work:
    id: int
    reg_no: str
    title: str
    owner: str
    creation_date: str | None
    image_name: str
    image_sha256: str
    width: int
    height: int
    registered_at: str


@dataclass(frozen=True)
class WorkRequest:
    """One work to register, its texts already checked."""

    image: Path
    reg_no: str
    title: str
    owner: str
    creation_date: str | None


@dataclass(frozen=True)
class PreparedWork:
    """A request with its image read, checked and fingerprinted (picklable, for workers)."""

    request: WorkRequest
    sha256: str
    width: int
    height: int
    chroma: tuple[float, float]
    thumbnail: bytes
    fingerprint: WorkFingerprint


def check_reg_no(text: str) -> str:
    reg_no = text.strip()
    match = REG_NO_PATTERN.match(reg_no)
    if match is None:
        raise InvalidInput(
            f"registration number {text!r} is not of the form 国作登字-YYYY-F-NNNNNNNN "
            "(or a province's abbreviation for 国, e.g. 赣作登字-2024-F-00012345)")
    year = int(match.group(1))
    if not 1990 <= year <= 2100:
        raise InvalidInput(f"registration number {reg_no}: year {year} is out of range")
    return reg_no


def _check_text(value: str, what: str) -> str:
    text = check_text(value, what, max_length=MAX_TEXT)
    if not text:
        raise InvalidInput(f"{what} is empty")
    return text


def make_request(image: Path, reg_no: str, title: str, owner: str,
                 creation_date: str | None) -> WorkRequest:
    """Check the texts of one registration (raises :class:`InvalidInput`)."""
    from jdzhi.timeutil import cst_date, parse_date, unix_time, utc_now

    created = None
    if creation_date is not None and creation_date.strip():
        day = parse_date(creation_date, what="creation date")
        if day > cst_date(unix_time(utc_now())):
            raise InvalidInput(f"creation date {day.isoformat()} lies in the future")
        created = day.isoformat()
    return WorkRequest(image=image, reg_no=check_reg_no(reg_no),
                       title=_check_text(title, "title"), owner=_check_text(owner, "owner"),
                       creation_date=created)


def prepare(request: WorkRequest) -> PreparedWork:
    """Read, check and fingerprint the request's image (raises :class:`InvalidInput`)."""
    from jdzhi.similarity.fingerprint import work_fingerprint
    from jdzhi.similarity.images import load_image

    image = load_image(request.image)
    try:
        sha256 = hashlib.sha256(request.image.read_bytes()).hexdigest()
    except OSError as error:
        raise InvalidInput(f"{request.image}: cannot read the file: {error.strerror}") from None
    return PreparedWork(request=request, sha256=sha256, width=image.width, height=image.height,
                        chroma=image.chroma, thumbnail=image.thumbnail,
                        fingerprint=work_fingerprint(image))


def prepare_all(requests: Sequence[WorkRequest], *, workers: int | None = None,
                progress: Callable[[int], None] | None = None) -> list[PreparedWork]:
    """:func:`prepare` every request, on all cores when there are several; the first bad image
    raises its :class:`InvalidInput` with the request's position (``row N`` counts from 1)."""
    if workers is None:
        workers = os.cpu_count() or 1
    if len(requests) < 4 or workers <= 1:
        prepared = []
        for request in requests:
            prepared.append(prepare(request))
            if progress is not None:
                progress(1)
        return prepared
    import importlib
    from concurrent.futures import ProcessPoolExecutor

    # imported once here, the forked workers share them instead of importing each their own
    for module in ("numpy", "cv2", "pdqhash", "PIL.Image", "jdzhi.similarity.fingerprint",
                   "jdzhi.similarity.images", "jdzhi.trace.scanning.decode"):
        importlib.import_module(module)
    results: list[PreparedWork] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(prepare, requests, chunksize=4):
            results.append(result)
            if progress is not None:
                progress(1)
    return results


def _store(db: Database, work: PreparedWork, registered_at: str) -> int:
    from jdzhi.registry import audit

    request = work.request
    keypoint_points, keypoint_descriptors = work.fingerprint.keypoints.to_blobs()
    cursor = db.execute(
        "INSERT INTO works (reg_no, title, owner, creation_date, image_name, image_sha256, "
        "width, height, pdq, pdq_quality, chroma_a, chroma_b, thumbnail, registered_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [request.reg_no, request.title, request.owner, request.creation_date,
         request.image.name, work.sha256, work.width, work.height, work.fingerprint.pdq,
         work.fingerprint.quality, work.chroma[0], work.chroma[1], work.thumbnail, registered_at])
    work_id = int(cursor.fetchone()[0])
    db.execute("INSERT INTO work_features (work_id, points, descriptors) VALUES (?, ?, ?)",
               [work_id, keypoint_points, keypoint_descriptors])
    audit.record_row_change(db, action="work.register", table="works", key=work_id, before=None,
                            details={"reg_no": request.reg_no, "image": request.image.name})
    return work_id


def _check_conflicts(db: Database, prepared: Sequence[PreparedWork],
                     where: Callable[[int], str]) -> None:
    from jdzhi.registry.db import rows

    known = {row["reg_no"] for row in rows(db, "SELECT reg_no FROM works")}
    images = {row["image_sha256"]: row["reg_no"]
              for row in rows(db, "SELECT reg_no, image_sha256 FROM works")}
    seen_numbers: dict[str, int] = {}
    seen_images: dict[str, int] = {}
    for index, work in enumerate(prepared):
        reg_no = work.request.reg_no
        if reg_no in known:
            raise Conflict(f"{where(index)}work {reg_no} is already registered")
        if reg_no in seen_numbers:
            raise Conflict(f"{where(index)}registration number {reg_no} repeats "
                           f"{where(seen_numbers[reg_no]).rstrip(': ')}")
        if work.sha256 in images:
            raise Conflict(f"{where(index)}{work.request.image.name} is the very image already "
                           f"registered as {images[work.sha256]}")
        if work.sha256 in seen_images:
            raise Conflict(f"{where(index)}{work.request.image.name} is the same image as "
                           f"{where(seen_images[work.sha256]).rstrip(': ')}")
        seen_numbers[reg_no] = index
        seen_images[work.sha256] = index


def register_prepared(db: Database, prepared: Sequence[PreparedWork],
                      where: Callable[[int], str] = lambda _: "") -> list[Work]:
    """Store prepared works in one transaction, refusing duplicates before writing anything."""
    from jdzhi.registry.db import transaction
    from jdzhi.similarity import index
    from jdzhi.timeutil import format_time, utc_now

    registered_at = format_time(utc_now())
    with transaction(db):
        before = index.stamp_of(db)
        _check_conflicts(db, prepared, where)
        ids = [_store(db, work, registered_at) for work in prepared]
        after = index.stamp_of(db)
    index.update(db, before, after, added=[
        (work_id, work.fingerprint.keypoints.descriptors.tobytes())
        for work_id, work in zip(ids, prepared, strict=True)])
    return [get_work(db, str(work_id)) for work_id in ids]


def register_work(db: Database, request: WorkRequest) -> Work:
    """Register one work (``jdzhi works register``)."""
    return register_prepared(db, [prepare(request)])[0]


@dataclass(frozen=True)
class ImportRows:
    """The rows of an import CSV as checked requests, with the row number of each (the line
    of the file it begins on: :func:`jdzhi.inputs.read_csv`)."""

    requests: list[WorkRequest]
    numbers: list[int]
    encoding: Encoding


def read_import_csv(path: Path) -> ImportRows:
    """The rows of an import CSV as checked requests; errors name the row."""
    table = read_csv(path)
    missing = [column for column in CSV_COLUMNS if column not in table.header]
    if missing:
        raise InvalidInput(f"{path}: the header lacks the column(s) {', '.join(missing)} "
                           f"(expected {','.join(CSV_COLUMNS)}); nothing imported")
    at = {column: table.header.index(column) for column in CSV_COLUMNS}
    base = path.resolve().parent
    requests: list[WorkRequest] = []
    for number, values in zip(table.numbers, table.rows, strict=True):
        if len(values) != len(table.header):
            raise InvalidInput(f"{path}: row {number} does not have {len(table.header)} "
                               "fields; nothing imported")
        value = {column: values[index] for column, index in at.items()}
        if not value["image"]:
            raise InvalidInput(f"{path}: row {number}: the image path is empty; "
                               "nothing imported")
        image = Path(value["image"])
        if not image.is_absolute():
            image = base / image
        try:
            requests.append(make_request(image, value["reg_no"], value["title"],
                                         value["owner"], value["creation_date"]))
        except InvalidInput as error:
            raise InvalidInput(f"{path}: row {number}: {error.message}; nothing imported"
                               ) from None
    if not requests:
        raise InvalidInput(f"{path}: no rows to import")
    return ImportRows(requests, table.numbers, table.encoding)


def import_works(db: Database, path: Path, *,
                 progress: Callable[[int], None] | None = None,
                 on_total: Callable[[int], None] | None = None,
                 on_encoding: Callable[[Encoding], None] | None = None) -> list[Work]:
    """Register every row of ``path`` or none (``jdzhi works import``); ``on_encoding`` hears
    the CSV's encoding when it was not UTF-8 (``gb18030``)."""
    rows = read_import_csv(path)
    requests = rows.requests
    if on_encoding is not None and rows.encoding != "utf-8":
        on_encoding(rows.encoding)
    if on_total is not None:
        on_total(len(requests))
    try:
        prepared = prepare_all(requests, progress=progress)
    except InvalidInput as error:
        # name the row: find the first request whose image fails, in order
        for number, request in zip(rows.numbers, requests, strict=True):
            try:
                from jdzhi.similarity.images import load_image

                load_image(request.image)
            except InvalidInput as row_error:
                raise InvalidInput(f"{path}: row {number}: {row_error.message}; "
                                   "nothing imported") from None
        raise InvalidInput(f"{path}: {error.message}; nothing imported") from None

    def where(index: int) -> str:
        return f"{path}: row {rows.numbers[index]}: "

    try:
        return register_prepared(db, prepared, where)
    except Conflict as error:
        raise Conflict(f"{error.message}; nothing imported") from None


_COLUMNS = ("id, reg_no, title, owner, creation_date, image_name, image_sha256, width, height, "
            "registered_at")


def _work(row: dict[str, Any]) -> Work:
    return Work(**row)


def list_works(db: Database) -> list[Work]:
    from jdzhi.registry.db import rows

    return [_work(row) for row in rows(db, f"SELECT {_COLUMNS} FROM works ORDER BY id")]


def get_work(db: Database, ref: str) -> Work:
    """A work by its registration number or its id."""
    from jdzhi.registry.db import rows

    found = rows(db, f"SELECT {_COLUMNS} FROM works WHERE reg_no = ?", [ref.strip()])
    # an id has at most 18 digits: SQLite's integers end below 2**63
    if not found and ref.strip().isascii() and ref.strip().isdigit() and len(ref.strip()) <= 18:
        found = rows(db, f"SELECT {_COLUMNS} FROM works WHERE id = ?", [int(ref.strip())])
    if not found:
        raise NotFound(f"no registered work {ref!r}")
    return _work(found[0])


def work_thumbnail(db: Database, work_id: int) -> bytes:
    row = db.execute("SELECT thumbnail FROM works WHERE id = ?", [work_id]).fetchone()
    if row is None:
        raise NotFound(f"no registered work with id {work_id}")
    return bytes(row[0])


def remove_work(db: Database, ref: str, reason: str) -> Work:
    """Remove a work and its fingerprints (``jdzhi works remove``), audited with the reason."""
    from jdzhi.registry import audit
    from jdzhi.registry.db import transaction
    from jdzhi.similarity import index

    reason = _check_text(reason, "reason")
    with transaction(db):
        before = index.stamp_of(db)
        work = get_work(db, ref)
        snapshot = audit.snapshot(db, "works", work.id)
        db.execute("DELETE FROM work_features WHERE work_id = ?", [work.id])
        db.execute("DELETE FROM works WHERE id = ?", [work.id])
        audit.record_row_change(db, action="work.remove", table="works", key=work.id,
                                before=snapshot, details={"reg_no": work.reg_no,
                                                          "reason": reason})
        after = index.stamp_of(db)
    index.update(db, before, after, removed=[work.id])
    return work
