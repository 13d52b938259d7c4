"""The scan log: every label scan (time, inspector, location, verdict), and clone detection.

A genuine label photocopied onto fakes verifies like the original, so copies are caught by where
and how often one serial turns up. A genuine scan of a serial becomes ``suspected-clone`` when,
within :attr:`ClonePolicy.window_days` before it, that serial of that enterprise (by its registry
id: a renamed enterprise keeps its history, two enterprises of one name do not share one) was

* seen more than :attr:`ClonePolicy.max_scans` times (this scan included), or
* seen at more than :attr:`ClonePolicy.max_locations` distinct locations, or
* seen at coordinates (``lat,lon``) so far from this scan's that getting from one to the other
  would take more than :attr:`ClonePolicy.max_speed_kmh` (an airliner's speed by default).

Place names are compared case- and space-insensitively; coordinates closer than
:attr:`ClonePolicy.same_place_km` count as one location. The earlier sightings go into the
verdict's reasons. The log is append-only (triggers refuse UPDATE and DELETE): it is evidence.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from jdzhi.errors import InvalidInput

if TYPE_CHECKING:
    from jdzhi.home import Home
    from jdzhi.registry.db import Database
    from jdzhi.trace.scanning.decode import ScanOutcome
    from jdzhi.trace.trust.model import Trust

__all__ = [
    "AUDITED_TABLES",
    "COMPONENT",
    "EARTH_RADIUS_KM",
    "MIGRATIONS",
    "ClonePolicy",
    "EnterpriseScans",
    "Location",
    "ScanReport",
    "ScanRun",
    "Sighting",
    "SuspectedClone",
    "clone_reasons",
    "distance_km",
    "earlier_sightings",
    "enterprise_id_of",
    "log_scan",
    "parse_location",
    "report",
    "scan",
]

COMPONENT = "scans"
AUDITED_TABLES: dict[str, str] = {}
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE scans (
            id INTEGER PRIMARY KEY,
            scanned_at TEXT NOT NULL,
            inspector TEXT NOT NULL,
            location TEXT NOT NULL,
            latitude REAL,
            longitude REAL,
            image TEXT NOT NULL,
            verdict TEXT NOT NULL,
            serial TEXT,
            enterprise TEXT,
            label_text TEXT,
            reasons TEXT NOT NULL
        )""",
        "CREATE INDEX scans_serial ON scans (enterprise, serial, scanned_at)",
        """CREATE TRIGGER scans_no_update BEFORE UPDATE ON scans
           BEGIN SELECT RAISE(ABORT, 'the scan log is append-only'); END""",
        """CREATE TRIGGER scans_no_delete BEFORE DELETE ON scans
           BEGIN SELECT RAISE(ABORT, 'the scan log is append-only'); END""",
    ),
    (
        # clone detection keys on the enterprise's id, not its name (a rename kept the name of
        # the scan time; two enterprises may share a name). Existing rows get the id of their
        # signed record (the exact label), else of the one enterprise of that name, if one.
        "ALTER TABLE scans ADD COLUMN enterprise_id INTEGER",
        "CREATE INDEX scans_migration_labels ON signed_records (label)",
        "DROP TRIGGER scans_no_update",
        """UPDATE scans SET enterprise_id = COALESCE(
               (SELECT r.enterprise_id FROM signed_records r WHERE r.label = scans.label_text),
               (SELECT e.id FROM enterprises e WHERE e.name = scans.enterprise AND NOT EXISTS (
                   SELECT 1 FROM enterprises other
                   WHERE other.name = e.name AND other.id != e.id)))
           WHERE enterprise IS NOT NULL""",
        """CREATE TRIGGER scans_no_update BEFORE UPDATE ON scans
           BEGIN SELECT RAISE(ABORT, 'the scan log is append-only'); END""",
        "DROP INDEX scans_migration_labels",
        "DROP INDEX scans_serial",
        "CREATE INDEX scans_enterprise_serial ON scans (enterprise_id, serial, scanned_at)",
    ),
)

EARTH_RADIUS_KM = 6371.0
_COORDINATES = re.compile(r"^\s*([+-]?\d{1,3}(?:\.\d+)?)\s*,\s*([+-]?\d{1,3}(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class ClonePolicy:
    """When a serial's sightings look like copies; the defaults are documented in README.md."""

    max_scans: int = 20
    max_locations: int = 3
    window_days: float = 30.0
    max_speed_kmh: float = 900.0
    same_place_km: float = 25.0

    def check(self) -> None:
        if self.max_scans < 1 or self.max_locations < 1:
            raise InvalidInput("the clone limits (--max-scans, --max-locations) must be at least 1")
        if not 0 < self.window_days <= 3650:
            raise InvalidInput(f"the clone window of {self.window_days:g} days is outside 0-3650")
        if self.max_speed_kmh <= 0 or self.same_place_km < 0:
            raise InvalidInput("the travel speed limit must be positive")


@dataclass(frozen=True)
class Location:
    """Where a scan happened: a place name, coordinates, or nothing (empty text)."""

    text: str
    latitude: float | None = None
    longitude: float | None = None

    @property
    def has_coordinates(self) -> bool:
        return self.latitude is not None and self.longitude is not None


def parse_location(text: str | None) -> Location:
    """``"Jingdezhen"``, ``"29.27,117.18"`` (latitude, longitude in degrees) or nothing."""
    raw = " ".join((text or "").split())
    if len(raw) > 200 or not raw.isprintable():
        raise InvalidInput("a location must be one printable line of at most 200 characters")
    match = _COORDINATES.match(raw)
    if match:
        lat, lon = float(match.group(1)), float(match.group(2))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InvalidInput(f"coordinates {raw!r} are out of range (latitude, longitude)")
        return Location(f"{lat:.5f},{lon:.5f}", lat, lon)
    return Location(raw)


def distance_km(a: Location, b: Location) -> float:
    """Great-circle distance between two located points (haversine)."""
    assert a.latitude is not None and a.longitude is not None
    assert b.latitude is not None and b.longitude is not None
    p1, p2 = math.radians(a.latitude), math.radians(b.latitude)
    dp, dl = p2 - p1, math.radians(b.longitude - a.longitude)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class Sighting:
    scanned_at: datetime
    inspector: str
    location: Location
    image: str

    def describe(self) -> str:
        from jdzhi.timeutil import format_time

        where = self.location.text or "an unrecorded place"
        who = f" by {self.inspector}" if self.inspector else ""
        return f"earlier sighting: {format_time(self.scanned_at)} at {where}{who}"


def clone_reasons(now: datetime, here: Location, earlier: Sequence[Sighting],
                  policy: ClonePolicy) -> list[str]:
    """Why this sighting looks like a copy (empty: it does not). ``earlier`` is oldest first."""
    window_start = now - timedelta(days=policy.window_days)
    recent = [s for s in earlier if window_start <= s.scanned_at <= now]
    findings: list[str] = []
    if len(recent) + 1 > policy.max_scans:
        findings.append(f"seen {len(recent) + 1} times within {policy.window_days:g} days "
                        f"(limit {policy.max_scans})")
    places = _distinct_places([*(s.location for s in recent), here], policy)
    if places > policy.max_locations:
        findings.append(f"seen at {places} distinct locations within {policy.window_days:g} "
                        f"days (limit {policy.max_locations})")
    if here.has_coordinates:
        for sighting in recent:
            if not sighting.location.has_coordinates:
                continue
            km = distance_km(here, sighting.location)
            if km <= policy.same_place_km:
                continue
            hours = abs((now - sighting.scanned_at).total_seconds()) / 3600
            speed = math.inf if hours == 0 else km / hours
            if speed > policy.max_speed_kmh:
                findings.append(
                    f"impossible travel: {km:.0f} km from the sighting at "
                    f"{sighting.location.text} in {hours * 60:.0f} minutes "
                    f"(over {policy.max_speed_kmh:g} km/h)")
                break
    if not findings:
        return []
    return ["suspected clone: " + "; ".join(findings),
            *(sighting.describe() for sighting in recent[-10:])]


def _distinct_places(locations: Sequence[Location], policy: ClonePolicy) -> int:
    names: set[str] = set()
    points: list[Location] = []
    for location in locations:
        if location.has_coordinates:
            if all(distance_km(location, p) > policy.same_place_km for p in points):
                points.append(location)
        elif location.text:
            names.add(location.text.casefold())
    return len(names) + len(points)


def earlier_sightings(db: Database, enterprise_id: int,
                      serial: str) -> list[Sighting]:
    from jdzhi.timeutil import stored_time

    cursor = db.execute(
        "SELECT scanned_at, inspector, location, latitude, longitude, image FROM scans "
        "WHERE enterprise_id = ? AND serial = ? ORDER BY scanned_at, id", [enterprise_id, serial])
    return [Sighting(stored_time(at), inspector, Location(location, lat, lon), image)
            for at, inspector, location, lat, lon, image in cursor.fetchall()]


def enterprise_id_of(outcome: ScanOutcome) -> int | None:
    """The registry id of the enterprise whose key signed the scanned record (None: unknown)."""
    return outcome.verification.enterprise_id if outcome.verification else None


def log_scan(db: Database, scanned_at: str, inspector: str, where: Location,
             outcome: ScanOutcome) -> None:
    """Append one scan to the scan log (in the caller's transaction)."""
    db.execute(
        "INSERT INTO scans (scanned_at, inspector, location, latitude, longitude, image, verdict, "
        "serial, enterprise, enterprise_id, label_text, reasons) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [scanned_at, inspector, where.text, where.latitude, where.longitude, outcome.image,
         outcome.verdict, outcome.serial, outcome.enterprise, enterprise_id_of(outcome),
         outcome.text, json.dumps(list(outcome.reasons), ensure_ascii=False)])


@dataclass(frozen=True)
class ScanRun:
    """What :func:`scan` did: one outcome per code found (or per unreadable photo)."""

    outcomes: tuple[ScanOutcome, ...]
    warnings: tuple[str, ...]
    logged: bool

    @property
    def all_genuine(self) -> bool:
        return all(outcome.genuine for outcome in self.outcomes)


def scan(
    images: Sequence[Path],
    *,
    home: Home,
    bundle: Path | None = None,
    authority: bytes | None = None,
    max_age_days: int | None = None,
    witnesses: Sequence[str] = (),
    inspector: str = "",
    location: str | None = None,
    policy: ClonePolicy | None = None,
    log: bool = True,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> ScanRun:
    """Scan photos: decode, verify, check for clones, and record every scan in the log.

    Verification uses the trust ``bundle`` when given, else the home's registry. Each photo's
    scans are logged in one transaction, so a crash never leaves half a photo logged.
    """
    from jdzhi.registry.db import open_registry, transaction
    from jdzhi.timeutil import format_time, utc_now
    from jdzhi.trace.scanning.decode import SUSPECTED_CLONE, check_images, scan_photo
    from jdzhi.trace.scanning.months import ensure_months
    from jdzhi.trace.verification.verifier import load_trust

    policy = policy or ClonePolicy()
    policy.check()
    where = parse_location(location)
    inspector = " ".join(inspector.split())
    if len(inspector) > 100 or not inspector.isprintable():
        raise InvalidInput("an inspector id must be one printable line of at most 100 characters")
    check_images(images)
    moment = now or utc_now()
    trust: Trust = load_trust(home=home, bundle=bundle, authority=authority, now=moment,
                              max_age_days=max_age_days, witnesses=witnesses)
    warnings = list(trust.warnings)
    if log and bundle is not None and not home.has_registry:
        # an inspector's own home: the bundle is all the trust it needs, and there is no log
        log = False
        warnings.append(f"no registry in {home.path}: these scans are not logged, so no clone "
                        "check against earlier scans")
    db = open_registry(home) if log else None
    outcomes: list[ScanOutcome] = []
    try:
        for path in images:
            found = scan_photo(path, trust, now=moment)
            if db is not None:
                with transaction(db):
                    ensure_months(db, moment)
                    found = [_judge_clone(db, outcome, moment, where, policy, SUSPECTED_CLONE)
                             for outcome in found]
                    for outcome in found:
                        log_scan(db, format_time(moment), inspector, where, outcome)
            outcomes.extend(found)
            if progress is not None:
                progress(1)
    finally:
        if db is not None:
            db.close()
    return ScanRun(tuple(outcomes), tuple(warnings), db is not None)


def _judge_clone(db: Database, outcome: ScanOutcome, moment: datetime,
                 where: Location, policy: ClonePolicy, clone_verdict: str) -> ScanOutcome:
    enterprise_id = enterprise_id_of(outcome)
    if not outcome.genuine or outcome.serial is None or enterprise_id is None:
        return outcome
    reasons = clone_reasons(moment, where, earlier_sightings(db, enterprise_id, outcome.serial),
                            policy)
    if not reasons:
        return outcome
    return replace(outcome, verdict=clone_verdict, reasons=(*outcome.reasons, *reasons))


# ---------------------------------------------------------------------------------------------
# the report


@dataclass(frozen=True)
class EnterpriseScans:
    enterprise: str
    scans: int
    serials: int
    verdicts: dict[str, int]


@dataclass(frozen=True)
class SuspectedClone:
    enterprise: str
    serial: str
    flagged: int
    sightings: int
    locations: tuple[str, ...]
    first_seen: str
    last_seen: str


@dataclass(frozen=True)
class ScanReport:
    total: int
    verdicts: dict[str, int]
    enterprises: tuple[EnterpriseScans, ...]
    clones: tuple[SuspectedClone, ...]


def report(home: Home) -> ScanReport:
    """Scans per enterprise and verdict, and every serial ever flagged as a suspected clone.

    Scans are grouped by the enterprise's registry id (by name for a scan without one), each
    group shown under the name of its latest scan."""
    from jdzhi.registry.db import open_registry, rows

    db = open_registry(home)
    try:
        verdicts = {r["verdict"]: r["n"] for r in rows(
            db, "SELECT verdict, COUNT(*) AS n FROM scans GROUP BY verdict ORDER BY n DESC")}
        enterprises = _enterprise_totals(db)
        clones = _suspected_clones(db)
    finally:
        db.close()
    return ScanReport(sum(verdicts.values()), verdicts, enterprises, clones)


#: the enterprise a scan counts for in the report: its id, else its name, else none
_ENTERPRISE_GROUP = "COALESCE('id ' || enterprise_id, 'name ' || enterprise, '')"


def _enterprise_totals(db: Database) -> tuple[EnterpriseScans, ...]:
    from jdzhi.registry.db import rows

    names = {r["g"]: r["enterprise"] for r in rows(
        db, f"SELECT {_ENTERPRISE_GROUP} AS g, enterprise FROM scans WHERE id IN "
            f"(SELECT MAX(id) FROM scans GROUP BY {_ENTERPRISE_GROUP})")}
    per: dict[str, dict[str, int]] = {}
    for r in rows(db, f"SELECT {_ENTERPRISE_GROUP} AS g, verdict, COUNT(*) AS n "
                      "FROM scans GROUP BY g, verdict"):
        per.setdefault(r["g"], {})[r["verdict"]] = r["n"]
    serials = {r["g"]: r["n"] for r in rows(
        db, f"SELECT {_ENTERPRISE_GROUP} AS g, COUNT(DISTINCT serial) AS n FROM scans "
            "GROUP BY g")}
    return tuple(sorted(
        (EnterpriseScans(names.get(group) or "(unidentified)", sum(counts.values()),
                         serials.get(group, 0), counts) for group, counts in per.items()),
        key=lambda e: (-e.scans, e.enterprise)))


#: how many of a group's scans were flagged (a count on both dialects: PostgreSQL sums no booleans)
_FLAGGED = "COUNT(*) FILTER (WHERE verdict = 'suspected-clone')"


def _suspected_clones(db: Database) -> tuple[SuspectedClone, ...]:
    from jdzhi.registry.db import rows

    flagged = rows(
        db,
        f"SELECT {_ENTERPRISE_GROUP} AS g, serial, "
        f"{_FLAGGED} AS flagged, COUNT(*) AS sightings, "
        "MIN(scanned_at) AS first_seen, MAX(scanned_at) AS last_seen, MAX(id) AS last_id "
        f"FROM scans WHERE serial IS NOT NULL GROUP BY g, serial HAVING {_FLAGGED} > 0 "
        "ORDER BY last_seen DESC")
    clones = []
    for r in flagged:
        (latest,) = rows(db, "SELECT enterprise FROM scans WHERE id = ?", [r["last_id"]])
        locations = tuple(loc["location"] for loc in rows(
            db, f"SELECT DISTINCT location FROM scans WHERE {_ENTERPRISE_GROUP} = ? "
                "AND serial = ? AND location != '' ORDER BY location", [r["g"], r["serial"]]))
        clones.append(SuspectedClone(latest["enterprise"], r["serial"], r["flagged"],
                                     r["sightings"], locations, r["first_seen"], r["last_seen"]))
    return tuple(clones)
