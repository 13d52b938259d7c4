"""The exchange format of registry entries: ``registry import``, ``registry export`` and the
file ``registry sample`` writes.

One row per enterprise and license, as CSV (UTF-8 with a header row, ``#`` comment lines allowed
before the header, categories separated by ``;``; read by :func:`jdzhi.inputs.read_csv`, so a
row is named by its line in the file) or as a JSON array of objects with the same fields
(``categories`` may be a list; a row is named by its place in the array, from 1). See
:data:`jdzhi.registry.entries.COLUMNS`.

**Formulas** (OWASP "CSV injection"): a spreadsheet runs a cell that begins with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return as a formula. Export writes such a cell with a ``'``
before it, and also a cell that begins with ``'`` itself; import drops a leading ``'`` only when
the character after it is one of those seven. So an export reads back unchanged, and a value
of a hand-written file that merely begins with ``'`` is kept as it is.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import Conflict, InvalidInput
from jdzhi.files import check_target, replace_atomically
from jdzhi.inputs import Encoding, read_csv, read_json_file
from jdzhi.registry.categories import list_categories
from jdzhi.registry.db import transaction
from jdzhi.registry.entries import (
    RegistryEntry,
    check_not_registered,
    list_entries,
    store_registration,
)
from jdzhi.registry.registration import (
    COLUMNS,
    REQUIRED_COLUMNS,
    Registration,
    record_of_enterprise,
    registration_from_fields,
)
from jdzhi.timeutil import format_time

if TYPE_CHECKING:
    from jdzhi.registry.db import Database

__all__ = [
    "MAX_IMPORT_BYTES",
    "ImportResult",
    "check_output_path",
    "export_file",
    "import_file",
    "read_records",
    "record_of",
    "write_records",
]

MAX_IMPORT_BYTES = 32 * 1024 * 1024

#: the first characters that make a spreadsheet read a cell as a formula
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED_STARTS = (*_FORMULA_STARTS, "'")


def neutralise_cell(value: str) -> str:
    """A CSV cell that no spreadsheet runs as a formula (see the module docstring)."""
    return f"'{value}" if value.startswith(_ESCAPED_STARTS) else value


def restore_cell(value: str) -> str:
    """The value :func:`neutralise_cell` was given."""
    return value[1:] if value.startswith("'") and value[1:].startswith(_ESCAPED_STARTS) else value


@dataclass(frozen=True)
class ImportResult:
    path: str
    count: int
    warnings: tuple[str, ...]
    #: False when only checked (``check_only``)
    stored: bool = True
    #: the file's encoding: ``gb18030`` when a CSV was not UTF-8 (worth a note)
    encoding: Encoding = "utf-8"


@dataclass(frozen=True)
class Records:
    """The rows of an exchange file, not yet validated, each with its row number."""

    rows: list[tuple[int, dict[str, Any]]]
    encoding: Encoding = "utf-8"


def import_file(db: Database, path: Path, *, check_only: bool = False,
                progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Import every row of a CSV or JSON file, or none: the first bad row stops the import with
    its row number and reason, before anything is written. ``check_only`` runs every check and
    writes nothing; ``progress(done, total)`` hears about each stored row."""
    records = read_records(path)
    categories = list_categories(db)
    numbers = [number for number, _ in records.rows]
    registrations: list[Registration] = []
    for number, fields in records.rows:
        try:
            registrations.append(registration_from_fields(fields, categories))
        except InvalidInput as error:
            raise InvalidInput(f"{path}: row {number}: {error.message}; nothing imported") from None
    if not registrations:
        raise InvalidInput(f"{path} has no rows to import")
    _check_unique_within(path, registrations, numbers)
    with transaction(db):
        try:
            check_not_registered(db, registrations, numbers)
        except Conflict as error:
            raise Conflict(f"{path}: {error.message}; nothing imported") from None
        if not check_only:
            for done, registration in enumerate(registrations, start=1):
                store_registration(db, registration, source=f"import {path.name}")
                if progress is not None:
                    progress(done, len(registrations))
    warnings = tuple(
        f"row {number}: {warning}"
        for number, registration in zip(numbers, registrations, strict=True)
        for warning in registration.warnings
    )
    return ImportResult(path=str(path), count=len(registrations), warnings=warnings,
                        stored=not check_only, encoding=records.encoding)


def _check_unique_within(path: Path, registrations: Sequence[Registration],
                         numbers: Sequence[int]) -> None:
    values: dict[str, Callable[[Registration], str]] = {
        "uscc": lambda registration: registration.enterprise.uscc,
        "license_no": lambda registration: registration.license_no}
    for field, value_of in values.items():
        first_row: dict[str, int] = {}
        for number, registration in zip(numbers, registrations, strict=True):
            value = value_of(registration)
            if value in first_row:
                raise Conflict(
                    f"{path}: row {number}: {field} {value} repeats row {first_row[value]}; "
                    "nothing imported"
                )
            first_row[value] = number


def read_records(path: Path) -> Records:
    """The rows of a CSV or JSON file in the exchange format (not yet validated)."""
    if _is_json(path):
        return Records(_json_records(path))
    return _csv_records(path)


def _is_json(path: Path) -> bool:
    """By the suffix, else by the first character (the readers report an unreadable file)."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".json"):
        return suffix == ".json"
    try:
        with path.open("rb") as handle:
            start = handle.read(4096)
    except OSError:
        return False
    return start.removeprefix(b"\xef\xbb\xbf").lstrip().startswith((b"[", b"{"))


def _json_records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    data = read_json_file(path, max_bytes=MAX_IMPORT_BYTES)
    if not isinstance(data, list):
        raise InvalidInput(f"{path} must hold a JSON array of objects, one per enterprise")
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise InvalidInput(f"{path}: row {number} is not a JSON object; nothing imported")
    return list(enumerate(data, start=1))


def _csv_records(path: Path) -> Records:
    table = read_csv(path, max_bytes=MAX_IMPORT_BYTES)
    header = table.header
    if not header:
        raise InvalidInput(f"{path} is empty (expected a header row: {','.join(COLUMNS)})")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise InvalidInput(f"{path} lacks the column(s) {', '.join(missing)}")
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise InvalidInput(f"{path} repeats the column(s) {', '.join(duplicated)}")
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, values in zip(table.numbers, table.rows, strict=True):
        if not any(values):
            raise InvalidInput(f"{path}: row {number} is empty; nothing imported")
        if len(values) != len(header):
            raise InvalidInput(f"{path}: row {number} has {len(values)} fields, the "
                               f"header {len(header)}; nothing imported")
        rows.append((number, {name: restore_cell(value)
                              for name, value in zip(header, values, strict=True)}))
    return Records(rows, table.encoding)


def export_file(db: Database, path: Path, *, overwrite: bool = False) -> int:
    """Write every enterprise with its current license in the format :func:`import_file`
    reads (CSV or JSON by the file's suffix); returns the number of rows."""
    check_output_path(path, overwrite=overwrite, what="export")
    records = [record_of(entry) for entry in list_entries(db)]
    write_records(path, records)
    return len(records)


def check_output_path(path: Path, *, overwrite: bool, what: str) -> None:
    """Refuse an output path before any work: wrong suffix, a folder, a missing parent folder,
    or an existing file unless ``overwrite``."""
    if path.suffix.lower() not in (".csv", ".json"):
        raise InvalidInput(f"{path}: the {what} file must end in .csv or .json")
    check_target(path, replace=overwrite, what=f"the {what} file")


def record_of(entry: RegistryEntry) -> dict[str, Any]:
    """An entry as one row of the exchange format."""
    lic = entry.license
    active = lic.status == "active"
    return {
        **record_of_enterprise(entry.enterprise), "license_no": lic.license_no,
        "categories": list(lic.categories), "valid_from": lic.valid_from.isoformat(),
        "valid_to": lic.valid_to.isoformat(), "status": lic.status,
        "status_reason": lic.status_reason,
        "status_effective_at": "" if active else format_time(lic.status_effective_at),
    }


def write_records(path: Path, records: Sequence[Mapping[str, Any]], *,
                  comment_lines: Sequence[str] = ()) -> None:
    """Write rows atomically (CSV or JSON by the suffix), CSV cells made safe from formulas."""
    if path.suffix.lower() == ".json":
        body = json.dumps(list(records), ensure_ascii=False, indent=2) + "\n"
    else:
        buffer = io.StringIO()
        for line in comment_lines:
            buffer.write(f"# {line}\n")
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        for record in records:
            cells = {**record, "categories": ";".join(record["categories"])}
            writer.writerow([neutralise_cell(str(cells.get(name) or "")) for name in COLUMNS])
        body = buffer.getvalue()
    replace_atomically(path, body.encode("utf-8"))
