"""Clone detection: the scan log, the limits, impossible travel, and `jdzhi scans report`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import BOTH_BACKENDS, Invoke
from hypothesis import given, settings
from hypothesis import strategies as st
from label_support import label_of, scan_json, signed_batch

from jdzhi.errors import ExitCode, InvalidInput
from jdzhi.home import Home
from jdzhi.registry.db import open_registry
from jdzhi.trace.scanning.log import (
    ClonePolicy,
    Location,
    Sighting,
    clone_reasons,
    distance_km,
    parse_location,
)

pytestmark = BOTH_BACKENDS

JINGDEZHEN = "29.2689,117.1784"
URUMQI = "43.8256,87.6168"
SHANGHAI = "31.2304,121.4737"
T = datetime(2026, 3, 12, 2, 0, tzinfo=UTC)


def _seen(minutes_before: float, where: str, who: str = "insp-1") -> Sighting:
    return Sighting(T - timedelta(minutes=minutes_before), who, parse_location(where), "p.jpg")


def test_locations_parse_as_names_or_coordinates() -> None:
    assert parse_location("  Jingdezhen   market ") == Location("Jingdezhen market")
    place = parse_location(JINGDEZHEN)
    assert place.has_coordinates and place.text == "29.26890,117.17840"
    assert parse_location(None) == Location("")
    assert 2950 < distance_km(place, parse_location(URUMQI)) < 3200
    for bad in ("95,10", "10,200", "x" * 201, "tab\there\x00"):
        with pytest.raises(InvalidInput):
            parse_location(bad)


def test_one_place_many_times_is_fine_until_the_scan_limit() -> None:
    policy = ClonePolicy(max_scans=5)
    earlier = [_seen(60 * i, "Jingdezhen") for i in range(4, 0, -1)]
    assert clone_reasons(T, parse_location("jingdezhen"), earlier, policy) == []
    more = [_seen(60 * 5, "Jingdezhen"), *earlier]
    reasons = clone_reasons(T, parse_location("Jingdezhen"), more, policy)
    assert reasons[0] == "suspected clone: seen 6 times within 30 days (limit 5)"
    assert reasons[1] == "earlier sighting: 2026-03-11T21:00:00Z at Jingdezhen by insp-1"
    assert len(reasons) == 6


def test_distinct_places_within_the_window() -> None:
    policy = ClonePolicy(max_locations=2)
    earlier = [_seen(3000, "Jingdezhen"), _seen(2000, "Nanchang")]
    assert clone_reasons(T, parse_location("nanchang"), earlier, policy) == []
    reasons = clone_reasons(T, parse_location("Beijing"), earlier, policy)
    assert reasons[0].startswith("suspected clone: seen at 3 distinct locations within 30 days")
    # sightings older than the window do not count
    old = [_seen(60 * 24 * 40, "Jingdezhen"), _seen(2000, "Nanchang")]
    assert clone_reasons(T, parse_location("Beijing"), old, policy) == []


def test_impossible_travel_between_coordinates_but_not_nearby_or_slow() -> None:
    policy = ClonePolicy()
    reasons = clone_reasons(T, parse_location(URUMQI), [_seen(60, JINGDEZHEN)], policy)
    assert reasons[0].startswith(
        "suspected clone: impossible travel: 3072 km from the sighting at 29.26890")
    assert "in 60 minutes (over 900 km/h)" in reasons[0]
    # Jingdezhen to Shanghai (about 420 km) in 8 hours is a train ride
    assert clone_reasons(T, parse_location(SHANGHAI), [_seen(480, JINGDEZHEN)], policy) == []
    # two spots 10 km apart scanned at once are one place
    assert clone_reasons(T, parse_location("29.30,117.25"), [_seen(0, JINGDEZHEN)], policy) == []


def test_policy_is_checked() -> None:
    for bad in (ClonePolicy(max_scans=0), ClonePolicy(window_days=0),
                ClonePolicy(max_speed_kmh=-1)):
        with pytest.raises(InvalidInput):
            bad.check()


def test_same_label_in_two_far_apart_places_is_a_suspected_clone(
        cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, entries = signed_batch(cli, tmp_path, monkeypatch, 2)
    photo, other = tmp_path / "label.png", tmp_path / "other.png"
    label_of(entries[0]).save(photo)
    label_of(entries[1]).save(other)
    monkeypatch.setenv("JDZHI_NOW", "2026-03-12T10:00:00+08:00")
    code, first, _ = scan_json(cli, str(photo), "--inspector", "insp-1", "--location", JINGDEZHEN)
    assert code == 0 and first[0]["verdict"] == "genuine"
    monkeypatch.setenv("JDZHI_NOW", "2026-03-12T11:30:00+08:00")
    code, second, _ = scan_json(cli, str(photo), str(other), "--inspector", "insp-2",
                                "--location", URUMQI)
    assert code == ExitCode.CHECK_FAILED
    clone, fine = second
    assert clone["verdict"] == "suspected-clone" and clone["serial"] == "1001"
    assert any(r.startswith("suspected clone: impossible travel") for r in clone["reasons"])
    assert ("earlier sighting: 2026-03-12T02:00:00Z at 29.26890,117.17840 by insp-1"
            in clone["reasons"])
    assert fine["verdict"] == "genuine"
    human = cli("scan", str(photo), "--location", URUMQI)
    assert human.exit_code == ExitCode.CHECK_FAILED and "SUSPECTED CLONE" in human.stdout

    report = cli("scans", "report", "--json")
    assert report.exit_code == 0
    data = json.loads(report.stdout)
    assert data["total"] == 4
    assert data["verdicts"] == {"suspected-clone": 2, "genuine": 2}
    (enterprise,) = data["enterprises"]
    assert enterprise == {"enterprise": "景德镇市青云陶瓷有限公司", "scans": 4, "serials": 2,
                          "verdicts": {"genuine": 2, "suspected-clone": 2}}
    (suspect,) = data["suspected_clones"]
    assert suspect["serial"] == "1001" and suspect["flagged"] == 2 and suspect["sightings"] == 3
    assert suspect["locations"] == ["29.26890,117.17840", "43.82560,87.61680"]
    human_report = cli("scans", "report")
    assert "Suspected clones" in human_report.stdout and "1001" in human_report.stdout


def test_limits_are_options(cli: Invoke, initialized: Home, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    _, entries = signed_batch(cli, tmp_path, monkeypatch, 1)
    photo = tmp_path / "label.png"
    label_of(entries[0]).save(photo)
    monkeypatch.setenv("JDZHI_NOW", "2026-03-12T10:00:00+08:00")
    verdicts = [scan_json(cli, str(photo), "--max-scans", "2")[1][0]["verdict"]
                for _ in range(3)]
    assert verdicts == ["genuine", "genuine", "suspected-clone"]
    places = [scan_json(cli, str(photo), "--location", place, "--max-locations", "1",
                        "--max-scans", "100")[1][0]["verdict"] for place in ("A", "B")]
    assert places == ["genuine", "suspected-clone"]
    # a window that has passed forgets the sightings
    monkeypatch.setenv("JDZHI_NOW", "2026-05-12T10:00:00+08:00")
    assert scan_json(cli, str(photo), "--location", "C", "--max-locations", "1",
                     "--max-scans", "2")[1][0]["verdict"] == "genuine"


def test_report_of_an_empty_log_and_the_log_is_append_only(
        cli: Invoke, initialized: Home) -> None:
    empty = cli("scans", "report", "--json")
    assert empty.exit_code == 0
    assert json.loads(empty.stdout) == {"total": 0, "verdicts": {}, "enterprises": [],
                                        "suspected_clones": []}
    assert "No suspected clones" in cli("scans", "report").stdout
    db = open_registry(initialized)
    try:
        db.execute("INSERT INTO scans (scanned_at, inspector, location, image, verdict, reasons)"
                   " VALUES ('2026-01-01T00:00:00Z', '', '', 'x', 'unreadable', '[]')")
        for statement in ("UPDATE scans SET verdict = 'genuine'", "DELETE FROM scans"):
            with pytest.raises(db.driver_error, match="append-only"):
                db.execute(statement)
    finally:
        db.close()


def test_report_needs_a_registry(cli: Invoke) -> None:
    assert cli("scans", "report").exit_code == ExitCode.NOT_INITIALIZED


@settings(max_examples=200, deadline=None)
@given(minutes=st.lists(st.floats(min_value=0, max_value=60 * 24 * 29), max_size=30),
       places=st.lists(st.sampled_from(["A", "a", " A ", "B", "C", "D"]), min_size=30,
                       max_size=30))
def test_flagged_exactly_when_a_limit_is_exceeded(minutes: list[float], places: list[str]) -> None:
    policy = ClonePolicy(max_scans=8, max_locations=2)
    earlier = sorted((_seen(m, p) for m, p in zip(minutes, places, strict=False)),
                     key=lambda s: s.scanned_at)
    here = parse_location("A")
    distinct = len({s.location.text.casefold() for s in earlier} | {"a"})
    expected = len(earlier) + 1 > policy.max_scans or distinct > policy.max_locations
    reasons = clone_reasons(T, here, earlier, policy)
    assert bool(reasons) == expected
    if reasons:  # the earlier sightings (the last ten) follow the finding
        assert len(reasons) == 1 + min(10, len(earlier))


def test_a_renamed_enterprise_keeps_its_serials_history(
        cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, entries = signed_batch(cli, tmp_path, monkeypatch, 1)
    photo = tmp_path / "label.png"
    label_of(entries[0]).save(photo)
    monkeypatch.setenv("JDZHI_NOW", "2026-03-12T10:00:00+08:00")
    code, first, _ = scan_json(cli, str(photo), "--location", JINGDEZHEN)
    assert code == 0 and first[0]["verdict"] == "genuine"
    renamed = cli("registry", "update", "JDZ-GI-2026-0001", "--name", "景德镇市青云瓷业有限公司")
    assert renamed.exit_code == 0, renamed.output
    monkeypatch.setenv("JDZHI_NOW", "2026-03-12T11:00:00+08:00")
    code, second, _ = scan_json(cli, str(photo), "--location", URUMQI)
    assert code == ExitCode.CHECK_FAILED
    assert second[0]["enterprise"] == "景德镇市青云瓷业有限公司"
    assert second[0]["verdict"] == "suspected-clone"
    (enterprise,) = json.loads(cli("scans", "report", "--json").stdout)["enterprises"]
    assert enterprise["enterprise"] == "景德镇市青云瓷业有限公司" and enterprise["scans"] == 2


def test_two_enterprises_of_one_name_do_not_share_a_serials_history(
        cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trace_support import add_enterprise, issue_key, lines, records, sign

    _, first_entries = signed_batch(cli, tmp_path, monkeypatch, 1)
    add_enterprise(cli, license_no="JDZ-GI-2026-0002", seed=6)  # the same name
    key = issue_key(cli, tmp_path, enterprise="JDZ-GI-2026-0002", name="second.key")
    second_signed, _ = sign(cli, tmp_path, key, records(1), name="second.jsonl")
    (second_entry,) = lines(second_signed)
    assert second_entry["serial"] == first_entries[0]["serial"]
    assert second_entry["enterprise"] == first_entries[0]["enterprise"]
    first_photo, second_photo = tmp_path / "first.png", tmp_path / "second.png"
    label_of(first_entries[0]).save(first_photo)
    label_of(second_entry).save(second_photo)
    monkeypatch.setenv("JDZHI_NOW", "2026-03-12T10:00:00+08:00")
    assert scan_json(cli, str(first_photo), "--location", JINGDEZHEN)[1][0]["verdict"] == "genuine"
    monkeypatch.setenv("JDZHI_NOW", "2026-03-12T11:00:00+08:00")
    code, found, _ = scan_json(cli, str(second_photo), "--location", URUMQI)
    assert code == 0 and found[0]["verdict"] == "genuine", found
    report = json.loads(cli("scans", "report", "--json").stdout)
    assert [e["scans"] for e in report["enterprises"]] == [1, 1]
    assert report["suspected_clones"] == []


@pytest.mark.sqlite_only
def test_the_migration_gives_old_scans_their_enterprise_id(
        cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jdzhi.registry.db import transaction
    from jdzhi.trace.scanning import log

    _, entries = signed_batch(cli, tmp_path, monkeypatch, 1)
    db = open_registry(initialized)
    try:
        (enterprise_id,) = db.execute("SELECT id FROM enterprises").fetchone()
        with transaction(db):  # back to the scan log as version 1 left it
            db.execute("DROP TABLE scans")
            for statement in log.MIGRATIONS[0]:
                db.execute(statement)
            db.execute("DELETE FROM schema_migrations WHERE component = 'scans' AND version > 1")
            db.execute("DROP TABLE alembic_version")  # a home made before Alembic
            for name, text in (("an old name", entries[0]["label"]),  # its record: exact
                               ("景德镇市青云陶瓷有限公司", "HTTPS://ELSEWHERE/V/X"),  # by name
                               ("nobody", "HTTPS://ELSEWHERE/V/Y"), (None, None)):
                db.execute("INSERT INTO scans (scanned_at, inspector, location, image, verdict, "
                           "serial, enterprise, label_text, reasons) VALUES "
                           "('2026-03-12T02:00:00Z', '', '', 'p.jpg', 'genuine', '1001', ?, ?, "
                           "'[]')", [name, text])
    finally:
        db.close()
    db = open_registry(initialized)  # migrates
    try:
        filled = [row[0] for row in db.execute("SELECT enterprise_id FROM scans ORDER BY id")]
        with pytest.raises(db.driver_error, match="append-only"):
            db.execute("UPDATE scans SET verdict = 'genuine'")
    finally:
        db.close()
    assert filled == [enterprise_id, enterprise_id, None, None]
