"""The rows of a records CSV and the rules each must meet before anything is signed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

from jdzhi.errors import InvalidInput, InvalidState
from jdzhi.inputs import Encoding, check_text, read_csv
from jdzhi.timeutil import CHINA_STANDARD_TIME, unix_time
from jdzhi.trace.formats.common import FormatError, parse_serial
from jdzhi.trace.formats.records import OPTIONAL_COLUMNS, RecordFields

if TYPE_CHECKING:
    from jdzhi.registry.categories import Category

REQUIRED_COLUMNS = ("serial", "batch", "category", "production_date")
MAX_ROWS = 1_000_000
MAX_CSV_BYTES = 512 * 1024 * 1024
_TEXT_LIMITS = {"batch": 64, "name": 200, "ware_class": 32, "report_no": 64, "work_reg_no": 64}


@dataclass(frozen=True)
class RecordRows:
    """The rows of a records CSV, each as long as the header (a short row's missing values
    empty), with the file line each begins on (:mod:`jdzhi.inputs`)."""

    columns: tuple[str, ...]
    numbers: list[int]
    rows: list[list[str]]
    encoding: Encoding


def read_rows(path: Path) -> RecordRows:
    """The rows of a records CSV, its columns checked (blank lines are skipped)."""
    table = read_csv(path, max_bytes=MAX_CSV_BYTES, max_rows=MAX_ROWS)
    header = table.header
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise InvalidInput(f"{path} lacks the column(s) {', '.join(missing)} "
                           f"(needs {', '.join(REQUIRED_COLUMNS)})")
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    unknown = [name for name in header if name not in known]
    if unknown:
        raise InvalidInput(f"{path} has unknown column(s) {', '.join(unknown)}")
    if len(set(header)) != len(header):
        raise InvalidInput(f"{path} names a column twice")
    width = len(header)
    for index, values in enumerate(table.rows):
        if len(values) != width:
            if len(values) > width:
                raise InvalidInput(f"{path} row {table.numbers[index]}: more fields than columns")
            values += [""] * (width - len(values))
    if not table.rows:
        raise InvalidInput(f"{path} holds no records")
    return RecordRows(header, table.numbers, table.rows, table.encoding)


def _end_of_production_day(day: date, now: datetime) -> datetime:
    end = datetime.combine(day, time(23, 59, 59), CHINA_STANDARD_TIME).astimezone(UTC)
    return min(end, now)


def _checked_text(row_no: int, column: str, value: str) -> str:
    try:
        return check_text(value, column, max_length=_TEXT_LIMITS[column])
    except InvalidInput as error:
        raise InvalidInput(f"row {row_no}: {error.message}; nothing was signed") from None


def _production_day(row_no: int, text: str, today: date) -> date:
    try:
        day = date.fromisoformat(text)
        if day.isoformat() != text:  # fromisoformat also reads 20260301 and 2026-W10-1
            raise ValueError
    except ValueError:
        raise InvalidInput(f"row {row_no}: production_date {text!r} is not YYYY-MM-DD; "
                           "nothing was signed") from None
    if day > today:
        raise InvalidInput(f"row {row_no}: production date {text} lies in the future; "
                           "nothing was signed")
    return day


@dataclass(frozen=True)
class RowContext:
    """What the rows that agree in every column but the serial share, checked once; a worker
    encodes it once per chunk (:class:`jdzhi.trace.formats.records.RecordTemplate`)."""

    #: the fields of the first such row (with its serial)
    fields: RecordFields
    #: the first columns of the registry row of each new record (see _staging.RECORD_COLUMNS)
    stored: tuple[int, int, str, str, str, str]


class RowRules:
    """The checks of one CSV row against the key's enterprise and license (see
    :mod:`jdzhi.trace.signing.batch`).

    The serial is checked for every row; the other columns once for each combination of their
    values, which the rows of a batch mostly repeat."""

    def __init__(self, *, columns: tuple[str, ...], signed_at: str, key_id: int,
                 enterprise_id: int, license_no: str, licensed: frozenset[str],
                 categories: tuple[Category, ...], now: datetime,
                 status_on: Callable[[datetime], str]) -> None:
        from jdzhi.trace.endorsements.lab import WARE_CLASSES

        self.serial_at = columns.index("serial")
        self.at = {column: columns.index(column) for column in columns}
        self.stored_signed_at = signed_at
        self.key_id = key_id
        self.enterprise_id = enterprise_id
        self.license_no = license_no
        self.licensed = licensed
        self.categories = categories
        self.now = now
        self.today = now.astimezone(CHINA_STANDARD_TIME).date()
        self.signed_at = unix_time(now)
        self.status_on = status_on
        self.status_by_day: dict[date, str] = {}
        self.category_by_name: dict[str, Category] = {}
        self.seen: dict[str, int] = {}
        self.contexts: dict[tuple[str, ...], RowContext] = {}
        self.ware_classes = WARE_CLASSES

    def check(self, row_no: int, values: list[str]) -> tuple[str, int, RowContext]:
        """(serial text, serial, context) of a valid row; InvalidInput or InvalidState names
        the row and the first rule it breaks."""
        serial_text = values[self.serial_at]
        try:
            serial = parse_serial(serial_text)
        except FormatError as error:
            raise InvalidInput(f"row {row_no}: {error}; nothing was signed") from None
        if serial_text in self.seen:
            raise InvalidInput(f"row {row_no}: serial {serial_text} repeats row "
                               f"{self.seen[serial_text]}; nothing was signed")
        self.seen[serial_text] = row_no
        others = tuple(values[:self.serial_at] + values[self.serial_at + 1:])
        context = self.contexts.get(others)
        if context is None:
            context = self.contexts[others] = self._context(row_no, serial, values)
        return serial_text, serial, context

    def _category(self, row_no: int, name: str) -> Category:
        category = self.category_by_name.get(name)
        if category is None:
            from jdzhi.registry.categories import find_category

            found = find_category(self.categories, name)
            if found is None:
                raise InvalidInput(f"row {row_no}: no product category {name!r}; "
                                   "nothing was signed")
            category = self.category_by_name[name] = found
        if category.code not in self.licensed:
            raise InvalidState(f"row {row_no}: license {self.license_no} does not cover "
                               f"category {category.code}; nothing was signed")
        return category

    def _check_license_on(self, row_no: int, day: date) -> None:
        status = self.status_by_day.get(day)
        if status is None:
            status = self.status_by_day[day] = self.status_on(
                _end_of_production_day(day, self.now))
        if status != "active":
            raise InvalidState(f"row {row_no}: license {self.license_no} was {status} on "
                               f"{day.isoformat()}; nothing was signed")

    def _context(self, row_no: int, serial: int, values: list[str]) -> RowContext:
        def value(column: str) -> str:
            at = self.at.get(column)
            return "" if at is None else values[at]

        batch = _checked_text(row_no, "batch", value("batch"))
        if not batch:
            raise InvalidInput(f"row {row_no}: batch is empty; nothing was signed")
        category = self._category(row_no, value("category"))
        day = _production_day(row_no, value("production_date"), self.today)
        self._check_license_on(row_no, day)
        optional: dict[str, str | None] = {}
        for column in OPTIONAL_COLUMNS:
            optional[column] = _checked_text(row_no, column, value(column)) or None
        if (optional["ware_class"] is not None
                and optional["ware_class"] not in self.ware_classes):
            raise InvalidInput(f"row {row_no}: ware_class {optional['ware_class']!r} is not one "
                               f"of {', '.join(self.ware_classes)}; nothing was signed")
        fields = RecordFields(
            key_id=self.key_id, serial=serial, signed_at=self.signed_at,
            category=category.label_code, enterprise_id=self.enterprise_id, batch=batch,
            category_code=category.code, production_date=day, **optional,
        )
        return RowContext(fields, (self.enterprise_id, self.key_id, batch, category.code,
                                   day.isoformat(), self.stored_signed_at))
