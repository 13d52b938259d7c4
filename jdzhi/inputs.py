"""Reading the text files people hand to jdzhi (CSV, JSON, JSONL), with one set of clean errors.

One rule each, for every command:

- **Encoding**: UTF-8, a leading BOM dropped. A CSV that is not UTF-8 but reads as GB18030 (what
  Excel saves on Chinese Windows as "CSV") is read as GB18030, and :attr:`CsvTable.encoding`
  says so, for the command to mention.
- **Row numbers**: a CSV row is named by the line of the file it begins on, as a text editor or a
  spreadsheet numbers it: with no comment lines, the header is row 1 and the first record row 2.
  JSONL lines are numbered the same way.
- **Layout of a CSV**: blank lines and ``#`` comment lines before the header are skipped; later
  blank lines are skipped; header names and values are stripped of surrounding whitespace.
- **JSON**: malformed JSON of any kind, including nesting too deep for Python's parser, is a
  :class:`json.JSONDecodeError` from :func:`parse_json` (never a RecursionError).
- **Text values**: :func:`check_text` refuses control characters (C0, DEL, C1, and the Unicode
  line and paragraph separators) and over-long values.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jdzhi.errors import InvalidInput

__all__ = [
    "MAX_TEXT_BYTES",
    "CsvTable",
    "Encoding",
    "check_text",
    "parse_json",
    "read_csv",
    "read_json_file",
    "read_jsonl_lines",
    "read_text_file",
]

#: the largest text file jdzhi reads into memory: 64 MiB holds well over a million CSV rows
MAX_TEXT_BYTES = 64 * 2**20

Encoding = Literal["utf-8", "gb18030"]

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise InvalidInput(f"{path} is a folder, not a file")
        if size > max_bytes:
            raise InvalidInput(f"{path} is {size / 2**20:.0f} MiB; the limit is "
                               f"{max_bytes / 2**20:.0f} MiB")
        return path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{path} does not exist") from None
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None


def read_text_file(path: Path, *, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of ``path`` (a leading BOM dropped), or InvalidInput saying why not."""
    try:
        return _read_bytes(path, max_bytes).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text") from None


def _read_spreadsheet_text(path: Path, max_bytes: int) -> tuple[str, Encoding]:
    """The text of a CSV: UTF-8 (BOM-aware) first, else GB18030 (Excel on Chinese Windows)."""
    raw = _read_bytes(path, max_bytes)
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text (nor GB18030): save it as "
                           "\"CSV UTF-8\"") from None


@dataclass(frozen=True)
class CsvTable:
    """A CSV file as read by :func:`read_csv`."""

    #: the header's names, stripped; empty for a file with no header line
    header: tuple[str, ...]
    #: the record rows' stripped values (as many as a row holds: not always as many as the
    #: header names)
    rows: list[list[str]]
    #: the row number of each row: the line of the file it begins on
    numbers: list[int]
    #: how the file was encoded: ``gb18030`` means it was not UTF-8 (worth telling the user)
    encoding: Encoding


def read_csv(path: Path, *, max_bytes: int = MAX_TEXT_BYTES,
             max_rows: int | None = None) -> CsvTable:
    """Read a CSV by the rules of the module docstring: rows numbered by the file line they begin
    on (the header is row 1 when no comment line precedes it). A malformed file, or one with more
    than ``max_rows`` record rows, is an InvalidInput naming the row."""
    text, encoding = _read_spreadsheet_text(path, max_bytes)
    lines = io.StringIO(text, newline="")
    skipped = 0
    header_line = ""
    for header_line in lines:
        if header_line.strip() and not header_line.lstrip().startswith("#"):
            break
        skipped += 1
    else:
        return CsvTable((), [], [], encoding)
    reader = csv.reader(lines)
    rows: list[list[str]] = []
    numbers: list[int] = []
    # the lines read before the reader's first: its line_num counts from there
    before = skipped + 1  # (a header cell holds no line break)
    end = before  # the line the last row read ends on
    limit = len(text) if max_rows is None else max_rows  # fewer rows than characters
    try:
        header = tuple(name.strip() for name in next(csv.reader([header_line]), []))
        for values in reader:
            start, end = end + 1, reader.line_num + before
            if values:
                rows.append([value.strip() for value in values])
                numbers.append(start)
                if len(rows) > limit:
                    raise InvalidInput(f"{path} has more than {max_rows} rows; split it")
    except csv.Error as error:
        raise InvalidInput(f"{path} is not valid CSV (row {end + 1}: {error})") from None
    return CsvTable(header, rows, numbers, encoding)


def parse_json(text: str) -> Any:
    """``json.loads``, with JSON nested too deeply for Python's parser refused like any other
    malformed JSON (:class:`json.JSONDecodeError`), so a hostile line is an error, not a crash."""
    try:
        return json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text, 0) from None


def read_json_file(path: Path, *, max_bytes: int = MAX_TEXT_BYTES) -> Any:
    """The JSON value in ``path``, or InvalidInput saying where it is malformed."""
    text = read_text_file(path, max_bytes=max_bytes)
    try:
        return parse_json(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"{path} is not valid JSON (line {error.lineno}: {error.msg})"
                           ) from None


def read_jsonl_lines(path: Path, *, max_bytes: int = MAX_TEXT_BYTES) -> list[tuple[int, str]]:
    """The non-blank lines of a JSONL file with their line numbers (from 1), not yet parsed
    (parse each with :func:`parse_json`)."""
    text = read_text_file(path, max_bytes=max_bytes)
    return [(number, line) for number, line in enumerate(text.splitlines(), start=1)
            if line.strip()]


def check_text(value: str, what: str, *, max_length: int) -> str:
    """``value`` stripped of surrounding whitespace, or InvalidInput when it holds a control
    character (a line break, a tab, ...) or is longer than ``max_length`` characters."""
    text = value.strip()
    if _CONTROL.search(text):
        raise InvalidInput(f"{what} contains a control character (a line break or tab?)")
    if len(text) > max_length:
        raise InvalidInput(f"{what} is longer than {max_length} characters")
    return text
