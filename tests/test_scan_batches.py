"""The server stores scans in batches (one commit each) and judges a run of page scans in memory:
whatever way a sequence of scans is cut into batches, every answer and every stored row is what
storing them one at a time gives."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import BOTH_BACKENDS
from hardening_support import World, build_world

from jdzhi.errors import Busy
from jdzhi.registry.db import Database, open_registry, scan_transaction, transaction
from jdzhi.server._scans import ScanRequest, TrustCache, store_scans
from jdzhi.trace.scanning.log import parse_location

NOW = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
PLACES = ["", "Beijing", "Shanghai", "29.2689,117.1784", "43.8256,87.6168", "31.2304,121.4737",
          "Chengdu"]
#: each table's rows in storing order (the logs without their ids: PostgreSQL does not roll a
#: sequence back)
TABLES = {
    "page_scans": "SELECT * FROM page_scans ORDER BY id",
    "page_checks": "SELECT * FROM page_checks ORDER BY enterprise_id, serial",
    "page_scan_clients": "SELECT * FROM page_scan_clients ORDER BY enterprise_id, serial, day, "
                         "client",
    "scans": "SELECT * FROM scans ORDER BY id",
}


class _Undo(Exception):
    """Rolls a trial back."""


def _requests(world: World, seed: int, count: int) -> list[ScanRequest]:
    """Page scans of a few labels (and a text that is no label) from a few clients at a few
    places over two days, with inspector scans among them, after two that flag a clone."""
    chooser = random.Random(seed)
    labels = [line["label"] for line in world.lines()] + ["not a jdzhi label"]
    # an inspector at Jingdezhen, another at Urumqi: a clone the page scans then show
    requests = [ScanRequest(labels[0], "inspector", name, parse_location(place), b"", "2026-03-10")
                for name, place in (("insp-1", PLACES[3]), ("insp-2", PLACES[4]))]
    for _ in range(count):
        inspector = chooser.random() < 0.2
        requests.append(ScanRequest(
            chooser.choice(labels), "inspector" if inspector else "page",
            chooser.choice(["insp-1", "insp-2"]) if inspector else "",
            parse_location(chooser.choice(PLACES)), bytes([chooser.randrange(4)]) * 16,
            chooser.choice(["2026-03-09", "2026-03-10"])))
    return requests


def _stored(db: Database, batches: list[list[ScanRequest]]) -> tuple[list[bytes], Any]:
    """The answers and the tables' rows after storing ``batches`` in turn (then rolled back)."""
    trust = TrustCache()
    answers: list[bytes] = []
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with pytest.raises(_Undo), transaction(db):
        for batch in batches:
            answers += store_scans(db, trust, batch, NOW)
        for table, query in TABLES.items():
            skip = 1 if table in ("page_scans", "scans") else 0
            rows[table] = [tuple(bytes(v) if isinstance(v, memoryview) else v
                                 for v in row[skip:]) for row in db.execute(query).fetchall()]
        raise _Undo
    return answers, rows


def _cut(requests: list[ScanRequest], chooser: random.Random) -> list[list[ScanRequest]]:
    batches, start = [], 0
    while start < len(requests):
        size = chooser.randint(1, 12)
        batches.append(requests[start:start + size])
        start += size
    return batches


@BOTH_BACKENDS
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_cut_into_batches_stores_and_answers_as_one_at_a_time(
        tmp_path: Path, seed: int) -> None:
    world = build_world(tmp_path, count=3)
    requests = _requests(world, seed, 60)
    db = open_registry(world.home)
    try:
        one_by_one = _stored(db, [[request] for request in requests])
        assert _stored(db, [requests]) == one_by_one
        assert _stored(db, _cut(requests, random.Random(seed))) == one_by_one
    finally:
        db.close()
    answers, rows = one_by_one
    # the trial is not empty: checks were counted, warnings and clone verdicts happened
    assert len(rows["page_scans"]) + len(rows["scans"]) == len(requests)
    assert any(b'"clone_warning":"' in answer for answer in answers)
    assert any(b'"verdict":"suspected-clone"' in answer for answer in answers)


@pytest.mark.parametrize("registry_backend", ["postgresql"], indirect=True)
def test_on_postgresql_scans_of_other_serials_are_stored_meanwhile(tmp_path: Path) -> None:
    """Two servers over one PostgreSQL store scans at the same time unless they scan the same
    serial; a registry change waits for the scans under way, as they wait for it."""
    world = build_world(tmp_path, count=3)
    labels = {line["serial"]: line["label"] for line in world.lines()}
    holder, other = open_registry(world.home), open_registry(world.home)
    try:
        other.execute("SET lock_timeout = '10s'")  # what would wait, fails instead of hanging
        # its first batch makes this month's partitions, which waits for every writer
        store_scans(other, TrustCache(), [_page_scan(labels["1003"])], NOW)
        with scan_transaction(holder, [(1, "1001")]):
            stored = store_scans(other, TrustCache(), [_page_scan(labels["1002"])], NOW)
            assert b'"checks":1,' in stored[0]
            other.execute("SET lock_timeout = '100ms'")
            with pytest.raises(Busy):
                store_scans(other, TrustCache(), [_page_scan(labels["1001"])], NOW)
            with pytest.raises(Busy), transaction(other):
                pass
            assert not other.in_transaction  # the refused transaction was rolled back
        stored = store_scans(other, TrustCache(), [_page_scan(labels["1001"])], NOW)
        assert b'"checks":1,' in stored[0]
    finally:
        holder.close()
        other.close()


def _page_scan(label: str) -> ScanRequest:
    return ScanRequest(label, "page", "", parse_location(None), b"c" * 16, "2026-03-10")
