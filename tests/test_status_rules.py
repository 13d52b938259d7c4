"""One status rule: jdzhi.trace.trust.status and the phone page's copy of it (verify.js's
``statusAt`` and ``keyStatusAt``, run in Node.js) agree on every generated case: every sequence of
license events up to four changes after the issue, probed at each event, a second either side,
both ends of the window's last day in China Standard Time, before the start and far later."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import jdzhi.trace.page
from jdzhi.timeutil import CHINA_STANDARD_TIME, unix_time
from jdzhi.trace.trust.status import (
    KeyEndKind,
    LicenseEventStatus,
    LicenseStatusEvent,
    key_status_at,
    license_status_at,
)

VERIFY_JS = Path(jdzhi.trace.page.__file__).parent / "static" / "verify.js"
DAY = 86400
#: the issue: effective 2026-01-01T00:00:00 CST, first window to 2026-03-31
ISSUED = unix_time(datetime(2026, 1, 1, tzinfo=CHINA_STANDARD_TIME))
FIRST_END = date(2026, 3, 31)
RENEWED_END = date(2026, 6, 30)
#: what each change sets: (status it sets, or None to keep the status in force; new end date)
CHANGES: dict[str, tuple[LicenseEventStatus | None, date | None]] = {
    "suspend": ("suspended", None), "revoke": ("revoked", None),
    "reinstate": ("active", None), "renew": (None, RENEWED_END),
}

RUNNER = """
import { readFileSync } from "node:fs";
import { statusAt, keyStatusAt } from "./verify.mjs";
const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const licenses = cases.licenses.map(([license, moment]) => {
  const [status, event] = statusAt(license, moment);
  return [status, event === null ? null : license.events.indexOf(event)];
});
const keys = cases.keys.map(([key, moment]) => keyStatusAt(key, moment));
process.stdout.write(JSON.stringify({ licenses, keys }));
"""


def _cst_seconds(day: date, hour: int, minute: int, second: int) -> int:
    return unix_time(datetime(day.year, day.month, day.day, hour, minute, second,
                              tzinfo=CHINA_STANDARD_TIME))


def _histories() -> list[tuple[LicenseStatusEvent, ...]]:
    """Every sequence of up to four changes after the issue, with effective times 20 days apart
    (each window end falls between two changes, or after them all), and the same sequences with
    the changes all at one moment (ties: the last recorded is in force)."""
    found = []
    for length in range(5):
        for actions in itertools.product(CHANGES, repeat=length):
            for spacing in (20 * DAY, 0):
                events = [LicenseStatusEvent("active", ISSUED, "licensed", FIRST_END)]
                for number, action in enumerate(actions, start=1):
                    status, valid_to = CHANGES[action]
                    at = ISSUED + 10 * DAY + number * spacing
                    events.append(LicenseStatusEvent(status or events[-1].status, at,
                                                      action, valid_to))
                found.append(tuple(events))
    return found


def _moments(events: tuple[LicenseStatusEvent, ...], valid_from: date) -> list[int]:
    moments = {0, ISSUED - 1, 2**32 - 1}
    for event in events:
        moments |= {event.effective_at - 1, event.effective_at, event.effective_at + 1}
    for day in (FIRST_END, RENEWED_END, valid_from - timedelta(days=1)):
        moments |= {_cst_seconds(day, 23, 59, 59), _cst_seconds(day, 23, 59, 59) + 1}
    return sorted(moments)


def _license_cases() -> list[tuple[tuple[LicenseStatusEvent, ...], date, int]]:
    # a license that starts with its issue, and one issued five days before its first day
    return [(events, valid_from, moment)
            for events in _histories()
            for valid_from in (date(2026, 1, 1), date(2026, 1, 6))
            for moment in _moments(events, valid_from)]


def _key_cases() -> list[tuple[int, int, int | None, KeyEndKind | None, int]]:
    not_before, not_after = 1_000_000, 2_000_000
    ends: list[tuple[int | None, KeyEndKind | None]] = [(None, None)]
    for at in (not_before - 10, not_before, 1_500_000, not_after, not_after + 10):
        ends += [(at, "revoked"), (at, "superseded")]
    cases = []
    for ended_at, kind in ends:
        moments = {0, not_before - 1, not_before, not_before + 1, 1_500_000, not_after - 1,
                   not_after, not_after + 1, 2**32 - 1}
        if ended_at is not None:
            moments |= {ended_at - 1, ended_at, ended_at + 1}
        cases += [(not_before, not_after, ended_at, kind, moment) for moment in sorted(moments)]
    return cases


def _license_js(events: tuple[LicenseStatusEvent, ...], valid_from: date) -> dict[str, Any]:
    return {"from": valid_from.isoformat(), "events": [
        {"s": event.status, "at": event.effective_at, "r": event.reason,
         "to": event.valid_to.isoformat() if event.valid_to else None} for event in events]}


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip("Node.js is not installed")
    return found


def test_the_generated_cases_cover_every_status_and_boundary() -> None:
    """The table is worth comparing: every license and key status comes up, and the window's
    last second and the next are told apart."""
    licenses = _license_cases()
    seen = {license_status_at(events, start, moment)[0] for events, start, moment in licenses}
    assert seen == {"active", "suspended", "revoked", "expired", "pending"}
    assert len(licenses) > 10_000
    issue_only = (LicenseStatusEvent("active", ISSUED, "licensed", FIRST_END),)
    last = _cst_seconds(FIRST_END, 23, 59, 59)
    assert license_status_at(issue_only, date(2026, 1, 1), last) == ("active", 0)
    assert license_status_at(issue_only, date(2026, 1, 1), last + 1) == ("expired", 0)
    assert last + 1 == unix_time(datetime(2026, 3, 31, 16, tzinfo=UTC))
    keys = {key_status_at(moment, not_before=nb, not_after=na, ended_at=at, end_kind=kind)
            for nb, na, at, kind, moment in _key_cases()}
    assert keys == {"pending", "active", "expired", "revoked", "superseded"}


def test_the_page_and_python_agree_on_every_case(node: str, tmp_path: Path) -> None:
    licenses = _license_cases()
    keys = _key_cases()
    (tmp_path / "verify.mjs").write_text(VERIFY_JS.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "runner.mjs").write_text(RUNNER, encoding="utf-8")
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps({
        "licenses": [[_license_js(events, start), moment] for events, start, moment in licenses],
        "keys": [[{"nb": nb, "na": na, "end": None if at is None else {"at": at, "kind": kind}},
                  moment] for nb, na, at, kind, moment in keys],
    }), encoding="utf-8")
    done = subprocess.run([node, str(tmp_path / "runner.mjs"), str(cases)], cwd=tmp_path,
                          capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr
    page = json.loads(done.stdout)
    expected = [list(license_status_at(events, start, moment))
                for events, start, moment in licenses]
    differing = [(licenses[index], got, want) for index, (got, want)
                 in enumerate(zip(page["licenses"], expected, strict=True)) if got != want]
    assert not differing, f"{len(differing)} license cases differ, e.g. {differing[:3]}"
    expected_keys = [key_status_at(moment, not_before=nb, not_after=na, ended_at=at,
                                   end_kind=kind) for nb, na, at, kind, moment in keys]
    assert page["keys"] == expected_keys
