"""Times as jdzhi stores and reads them.

Stored times are UTC, ISO 8601 to the second, with a ``Z`` suffix (``2026-03-01T08:00:00Z``), so
that they sort as text. Times typed by people may carry any offset; a time without one is read in
China Standard Time (UTC+08:00), where the registry works. A bare date means its first second.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache

from jdzhi.errors import InvalidInput

__all__ = [
    "CHINA_STANDARD_TIME", "EARLIEST_YEAR", "LATEST_YEAR", "cst_date", "end_of_cst_day",
    "format_time", "from_unix", "parse_date", "parse_time", "stored_time", "unix_time", "utc_now",
]

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
#: times jdzhi accepts; far-off years are typing mistakes, and would overflow date arithmetic
EARLIEST_YEAR, LATEST_YEAR = 1970, 2999


def utc_now() -> datetime:
    """The current time, truncated to the second.

    ``JDZHI_NOW`` (an ISO 8601 time) overrides the clock, for reproducible demos and tests.
    """
    override = os.environ.get("JDZHI_NOW")
    if override:
        return _parse_override(override)
    return datetime.now(UTC).replace(microsecond=0)


@lru_cache(maxsize=8)
def _parse_override(text: str) -> datetime:
    # verifying a batch asks for the time once per record
    return parse_time(text, what="JDZHI_NOW")


def parse_time(text: str, *, what: str = "time") -> datetime:
    """Parse an ISO 8601 date or date-time into an aware UTC datetime (second precision)."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            parsed = datetime.combine(date.fromisoformat(raw), datetime.min.time())
        else:
            parsed = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise InvalidInput(
            f"{what} {text!r} is not an ISO 8601 time such as 2026-03-01T08:00:00+08:00"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CHINA_STANDARD_TIME)
    if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        raise InvalidInput(f"{what} {text!r} is outside the years {EARLIEST_YEAR}-{LATEST_YEAR}")
    return parsed.astimezone(UTC).replace(microsecond=0)


def parse_date(text: str, *, what: str = "date") -> date:
    """Parse an ISO 8601 calendar date (``YYYY-MM-DD``)."""
    try:
        if len(text.strip()) != 10:
            raise ValueError
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not a date of the form YYYY-MM-DD") from None


def format_time(moment: datetime) -> str:
    """The stored form of a time: UTC, to the second, ``Z`` suffix."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def stored_time(text: str) -> datetime:
    """Read back a time written by :func:`format_time`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def unix_time(moment: datetime) -> int:
    """Unix seconds (UTC), the form of times in the signed formats."""
    return int(moment.astimezone(UTC).timestamp())


def from_unix(seconds: int) -> datetime:
    """The aware UTC datetime of Unix seconds."""
    return datetime.fromtimestamp(seconds, UTC)


def cst_date(moment: int) -> date:
    """The calendar date of a Unix time in China Standard Time (license windows are dates)."""
    return datetime.fromtimestamp(moment, CHINA_STANDARD_TIME).date()


def end_of_cst_day(day: date) -> datetime:
    """The last second (23:59:59) of a calendar date in China Standard Time, in UTC."""
    return datetime.combine(day, time(23, 59, 59), CHINA_STANDARD_TIME).astimezone(UTC)
