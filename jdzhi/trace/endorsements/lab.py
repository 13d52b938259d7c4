"""The ceramic testing center: its registration, its certified key, and batch endorsements.

An endorsement is a COSE_Sign1 message signed with the lab's key (content type
``application/vnd.jdzhi.endorsement+cbor``) holding lead and cadmium release results by ware
class, checked against limits, plus optional water absorption, thermal shock and whiteness. Its
outcome is computed, never given: ``pass`` only when every result is within its limit (and the
optional checks that have limits pass). A failed batch can be recorded; it says ``fail``.

Values are carried as integers in thousandths of their unit (0.8 mg/dm² is 800), so that the
signed bytes hold no floating-point numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jdzhi.errors import Conflict, IntegrityError, InvalidInput, NotFound
from jdzhi.inputs import Encoding, read_csv, read_json_file
from jdzhi.timeutil import unix_time
from jdzhi.trace.formats.common import (
    CONTENT_TYPES,
    FORMAT_VERSION,
    WARE_CLASSES,
    as_int,
    as_text,
    external_aad,
    key_kid,
)
from jdzhi.trace.trust.model import Endorsement, EndorsementOutcome, ReleaseResult, TrustedKey

if TYPE_CHECKING:
    from jdzhi.home import Home
    from jdzhi.registry.db import Database

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_STANDARD",
    "DEFAULT_WATER_ABSORPTION_LIMIT",
    "WARE_CLASSES",
    "EarlierEndorsement",
    "EndorseResult",
    "LabAdded",
    "Limits",
    "OptionalResults",
    "Outcome",
    "add_lab",
    "decode_endorsement",
    "default_limits",
    "endorse_batch",
    "endorsement_json",
    "endorsement_payload",
    "load_limits",
    "milli",
    "outcome_of",
    "parse_results",
    "serial_ranges",
    "show_milli",
]

#: an endorsement's outcome
Outcome = Literal["pass", "fail"]

#: default limits: GB 4806.4-2016 (食品安全国家标准 陶瓷制品), table of lead and cadmium migration
#: limits, with ware classes as defined in its §2 (flat: depth <= 25 mm; small hollow: < 1.1 L;
#: large hollow: 1.1 L to < 3 L; storage: >= 3 L). Compare ISO 6486-2:1999, which differs for
#: cookware (0.5 / 0.05 mg/L) and small hollow ware cadmium (0.5 mg/L). (unit, Pb, Cd) in mg.
DEFAULT_STANDARD = "GB 4806.4-2016"
DEFAULT_LIMITS: dict[str, tuple[str, str, str]] = {
    "flat": ("mg/dm2", "0.8", "0.07"),
    "small-hollow": ("mg/L", "2.0", "0.30"),
    "large-hollow": ("mg/L", "1.0", "0.25"),
    "cups": ("mg/L", "0.5", "0.25"),
    "storage": ("mg/L", "0.5", "0.25"),
    "cookware": ("mg/L", "3.0", "0.30"),
}
#: porcelain (瓷器) has water absorption of at most 0.5 % (GB/T 3532-2009 daily-use porcelain)
DEFAULT_WATER_ABSORPTION_LIMIT = "0.5"


@dataclass(frozen=True)
class Limits:
    standard: str
    by_class: Mapping[str, tuple[str, int, int]]  # unit, Pb, Cd in thousandths
    water_absorption: int  # thousandths of a percent


def milli(text: str, *, what: str) -> int:
    """A decimal with at most 3 decimals, as an integer of thousandths."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidInput(f"{what} {text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise InvalidInput(f"{what} {text!r} must be a number >= 0")
    if value > 10**9:  # before scaling: 1e999999 * 1000 would overflow the decimal context
        raise InvalidInput(f"{what} {text!r} is implausibly large")
    scaled = value * 1000
    if scaled != scaled.to_integral_value():
        raise InvalidInput(f"{what} {text!r} has more than 3 decimals")
    return int(scaled)


@dataclass(frozen=True)
class OptionalResults:
    """What a testing center may report beside lead and cadmium release, as people write it:
    water absorption (%, checked against its limit), thermal shock (passed or not) and
    whiteness (degrees, recorded only); None for what was not tested."""

    water_absorption: str | None = None
    thermal_shock: bool | None = None
    whiteness: str | None = None

    def encoded(self) -> dict[str, int]:
        """As an endorsement carries them (``optional``): thousandths, thermal shock 1 or 0."""
        optional: dict[str, int] = {}
        if self.water_absorption is not None:
            optional["wa"] = milli(self.water_absorption, what="water absorption")
        if self.thermal_shock is not None:
            optional["ts"] = int(self.thermal_shock)
        if self.whiteness is not None:
            optional["wh"] = milli(self.whiteness, what="whiteness")
        return optional


def show_milli(value: int) -> str:
    return f"{Decimal(value) / 1000:f}".rstrip("0").rstrip(".") if value else "0"


def default_limits() -> Limits:
    return Limits(
        DEFAULT_STANDARD,
        {ware: (unit, milli(pb, what="limit"), milli(cd, what="limit"))
         for ware, (unit, pb, cd) in DEFAULT_LIMITS.items()},
        milli(DEFAULT_WATER_ABSORPTION_LIMIT, what="limit"),
    )


def load_limits(path: Path | None) -> Limits:
    """Limits from a JSON file ``{"standard": ..., "limits": {"flat": {"pb": "0.8", "cd":
    "0.07"}, ...}, "water_absorption": "0.5"}`` (classes not named keep their defaults). A file
    with any limit less strict than GB 4806.4-2016 must name the standard it comes from."""
    limits = default_limits()
    if path is None:
        return limits
    data = read_json_file(path)
    if not isinstance(data, dict) or not isinstance(data.get("limits", {}), dict):
        raise InvalidInput(f"limits file {path} must be a JSON object with a 'limits' object")
    standard = data.get("standard", limits.standard)
    if not isinstance(standard, str) or not standard.strip():
        raise InvalidInput(f"limits file {path}: 'standard' must name the standard")
    standard = standard.strip()
    by_class = dict(limits.by_class)
    for ware, entry in data.get("limits", {}).items():
        if ware not in WARE_CLASSES:
            raise InvalidInput(f"limits file {path}: unknown ware class {ware!r}")
        if not isinstance(entry, dict) or not {"pb", "cd"} <= set(entry):
            raise InvalidInput(f"limits file {path}: {ware} needs 'pb' and 'cd'")
        unit, default_pb, default_cd = limits.by_class[ware]
        by_class[ware] = (unit, milli(str(entry["pb"]), what=f"{ware} Pb limit"),
                          milli(str(entry["cd"]), what=f"{ware} Cd limit"))
        for metal, limit, default in (("Pb", by_class[ware][1], default_pb),
                                      ("Cd", by_class[ware][2], default_cd)):
            if limit > default and standard == DEFAULT_STANDARD:
                raise InvalidInput(
                    f"limits file {path}: the {ware} {metal} limit {show_milli(limit)} {unit} "
                    f"is less strict than {DEFAULT_STANDARD} ({show_milli(default)} {unit}): "
                    "name the standard it comes from in 'standard'")
    water = data.get("water_absorption")
    return Limits(standard, by_class,
                  milli(str(water), what="water absorption limit") if water is not None
                  else limits.water_absorption)


def parse_results(path: Path, limits: Limits, *,
                  on_encoding: Callable[[Encoding], None] | None = None,
                  ) -> tuple[ReleaseResult, ...]:
    """Results CSV: columns ``ware_class, pb, cd`` (mg/dm² for flat ware, else mg/L); rows are
    named by their line in the file (:func:`jdzhi.inputs.read_csv`). ``on_encoding`` hears the
    file's encoding."""
    table = read_csv(path)
    if on_encoding is not None:
        on_encoding(table.encoding)
    if not {"ware_class", "pb", "cd"} <= set(table.header):
        raise InvalidInput(f"results file {path} needs the columns ware_class, pb, cd")
    at = {column: table.header.index(column) for column in ("ware_class", "pb", "cd")}
    results: list[ReleaseResult] = []
    seen: set[str] = set()
    for number, values in zip(table.numbers, table.rows, strict=True):
        ware, pb, cd = (values[index] if index < len(values) else "" for index in at.values())
        if ware not in WARE_CLASSES:
            raise InvalidInput(f"{path} row {number}: ware class {ware!r} is not one of "
                               f"{', '.join(WARE_CLASSES)}")
        if ware in seen:
            raise InvalidInput(f"{path} row {number}: ware class {ware} appears twice")
        seen.add(ware)
        unit, pb_limit, cd_limit = limits.by_class[ware]
        results.append(ReleaseResult(
            ware_class=ware, unit=unit,
            pb=milli(pb, what=f"row {number} pb"), cd=milli(cd, what=f"row {number} cd"),
            pb_limit=pb_limit, cd_limit=cd_limit,
        ))
    if not results:
        raise InvalidInput(f"results file {path} holds no results")
    return tuple(results)


def serial_ranges(serials: list[int]) -> tuple[tuple[int, int], ...]:
    """Sorted serials as inclusive ranges: [1, 2, 3, 7] -> ((1, 3), (7, 7))."""
    ranges: list[list[int]] = []
    for serial in sorted(set(serials)):
        if ranges and serial == ranges[-1][1] + 1:
            ranges[-1][1] = serial
        else:
            ranges.append([serial, serial])
    return tuple((low, high) for low, high in ranges)


def outcome_of(results: tuple[ReleaseResult, ...], optional: Mapping[str, int],
               water_limit: int | None) -> EndorsementOutcome:
    passed = bool(results) and all(result.passed for result in results)
    if optional.get("ts") == 0:
        passed = False
    if water_limit is not None and "wa" in optional and optional["wa"] > water_limit:
        passed = False
    return "pass" if passed else "fail"


def _result_map(result: ReleaseResult) -> dict[str, object]:
    return {"w": result.ware_class, "u": result.unit, "pb": result.pb, "cd": result.cd,
            "pbl": result.pb_limit, "cdl": result.cd_limit}


def endorsement_payload(e: Endorsement, water_limit: int | None) -> dict[str, object]:
    data: dict[str, object] = {
        "v": FORMAT_VERSION, "lab": e.lab_id, "k": e.key_id, "e": e.enterprise_id,
        "b": e.batch, "ser": [list(pair) for pair in e.serial_ranges],
        "res": [_result_map(result) for result in e.results], "opt": dict(e.optional),
        "out": e.outcome, "std": e.standard, "r": e.report_no, "tt": e.tested_at,
        "t": e.signed_at,
    }
    if water_limit is not None:
        data["wal"] = water_limit
    return data


def decode_endorsement(message: bytes, keys: Mapping[int, TrustedKey]) -> Endorsement:
    """Check a stored or bundled endorsement: structure, the lab's signature, its outcome."""
    from jdzhi.trace.formats.cose import CoseError, decode_sign1, loads_canonical, verify_sign1

    try:
        sign1 = decode_sign1(message, what="endorsement")
        data = loads_canonical(sign1.payload, what="endorsement payload")
        if sign1.content_type != CONTENT_TYPES["endorsement"] or not isinstance(data, dict):
            raise CoseError("not an endorsement")
        key = keys.get(data["k"])
        if key is None or key.role != "lab" or key.lab_id != data["lab"]:
            raise CoseError(f"signed by key {data['k']!r}, not a certified key of its lab")
        if sign1.kid != key_kid(key.key_id) or not verify_sign1(
            sign1, key.public_key, external_aad("endorsement")
        ):
            raise CoseError("the lab's signature does not verify")
        results = tuple(
            ReleaseResult(as_text(item["w"]), as_text(item["u"]), as_int(item["pb"]),
                          as_int(item["cd"]), as_int(item["pbl"]), as_int(item["cdl"]))
            for item in data["res"]
        )
        optional = {as_text(name): as_int(value) for name, value in data["opt"].items()}
        for name in ("lab", "k", "e", "tt", "t", *(["wal"] if "wal" in data else [])):
            as_int(data[name])
        for name in ("b", "out", "std", "r"):
            as_text(data[name])
        endorsement = Endorsement(
            lab_id=data["lab"], key_id=data["k"], enterprise_id=data["e"], batch=data["b"],
            serial_ranges=tuple((as_int(low), as_int(high)) for low, high in data["ser"]),
            outcome=data["out"], results=results, optional=optional, standard=data["std"],
            report_no=data["r"], tested_at=data["tt"], signed_at=data["t"], message=message,
        )
        if data["out"] != outcome_of(results, optional, data.get("wal")):
            raise CoseError(f"its outcome {data['out']!r} contradicts its own results")
        if key.status_at(endorsement.signed_at) != "active":
            raise CoseError("signed outside the lab key's validity")
    except (CoseError, KeyError, TypeError, ValueError) as error:
        raise IntegrityError(f"an endorsement failed its checks: {error}") from None
    return endorsement


@dataclass(frozen=True)
class LabAdded:
    lab_id: int
    name: str
    key_id: int
    key_path: str


def add_lab(home: Home, db: Database, name: str, *, accreditation: str, out: Path,
            authority_passphrase: bytes, key_passphrase: bytes,
            valid_until: date | None = None) -> LabAdded:
    """Register a testing center and certify its endorsement key (written to ``out``)."""
    from jdzhi.registry import audit
    from jdzhi.registry.db import transaction
    from jdzhi.timeutil import format_time, utc_now
    from jdzhi.trace.keys.authority import load_authority
    from jdzhi.trace.keys.certified import issue_lab_key
    from jdzhi.trace.keys.keyfile import check_new_key_path

    name = " ".join(name.split())
    if not name:
        raise InvalidInput("the testing center needs a name")
    check_new_key_path(out)
    if db.execute("SELECT 1 FROM labs WHERE name = ?", [name]).fetchone():
        raise Conflict(f"testing center {name!r} is registered already")
    authority = load_authority(home, db, authority_passphrase)
    with transaction(db):
        cursor = db.execute("INSERT INTO labs (name, accreditation, created_at) VALUES (?, ?, ?) "
                            "RETURNING id", [name, accreditation.strip(), format_time(utc_now())])
        lab_id = int(cursor.fetchone()[0])
        audit.record_row_change(db, action="lab.add", table="labs", key=lab_id, before=None)
        key = issue_lab_key(home, db, lab_id, out=out, authority=authority,
                            key_passphrase=key_passphrase, valid_until=valid_until)
    return LabAdded(lab_id, name, key.key_id, str(out))


@dataclass(frozen=True)
class EarlierEndorsement:
    """An endorsement of the same batch recorded before: it stays recorded, and the latest
    endorsement decides what verification shows."""

    report_no: str
    lab: str
    outcome: Outcome
    signed_at: str


@dataclass(frozen=True)
class EndorseResult:
    endorsement: Endorsement
    lab: str
    enterprise: str
    records: int
    #: the batch's earlier endorsements, oldest first (all kept; this one now decides)
    earlier: tuple[EarlierEndorsement, ...] = ()
    #: the results CSV's encoding: ``gb18030`` when it was not UTF-8 (worth a note)
    results_encoding: Encoding = "utf-8"

    @property
    def previous_outcome(self) -> Outcome | None:
        """The outcome that decided the batch before this endorsement, if any."""
        return self.earlier[-1].outcome if self.earlier else None

    @property
    def overturns_pass(self) -> bool:
        """Whether this endorsement fails a batch whose latest endorsement had passed it."""
        return self.previous_outcome == "pass" and self.endorsement.outcome == "fail"


def _batch_records(db: Database, enterprise_id: int, enterprise_name: str,
                   batch: str) -> tuple[list[int], set[str]]:
    """The serials of a signed batch and the ware classes its records name."""
    from jdzhi.trace.formats.records import decode_record

    serials: list[int] = []
    ware_classes: set[str] = set()
    for serial, record in db.execute(
        "SELECT serial, record FROM signed_records WHERE enterprise_id = ? AND batch = ?",
        [enterprise_id, batch],
    ).fetchall():
        serials.append(int(serial))
        ware_class = decode_record(bytes(record))[1].ware_class
        if ware_class is not None:
            ware_classes.add(ware_class)
    if not serials:
        raise NotFound(f"{enterprise_name} has no signed records in batch {batch!r}")
    return serials, ware_classes


def _check_coverage(results_file: Path, results: tuple[ReleaseResult, ...],
                    ware_classes: set[str], batch: str) -> None:
    missing = sorted(ware_classes - {result.ware_class for result in results})
    if missing:
        raise InvalidInput(f"results file {results_file} has no results for ware class(es) "
                           f"{', '.join(missing)} of batch {batch}: every ware class the "
                           "batch's records name must be tested")


def _earlier_endorsements(db: Database, enterprise_id: int,
                          batch: str) -> tuple[EarlierEndorsement, ...]:
    return tuple(
        EarlierEndorsement(report_no, lab, "pass" if outcome == "pass" else "fail", signed_at)
        for report_no, lab, outcome, signed_at in db.execute(
            "SELECT endorsements.report_no, labs.name, endorsements.outcome, "
            "endorsements.signed_at FROM endorsements JOIN labs ON labs.id = endorsements.lab_id "
            "WHERE endorsements.enterprise_id = ? AND endorsements.batch = ? "
            "ORDER BY endorsements.signed_at, endorsements.id", [enterprise_id, batch],
        ).fetchall())


def endorse_batch(
    db: Database,
    *,
    key_file: Path,
    passphrase: bytes,
    enterprise_ref: str,
    batch: str,
    results_file: Path,
    report_no: str,
    tested_at: datetime,
    limits_file: Path | None = None,
    optional_results: OptionalResults = OptionalResults(),
) -> EndorseResult:
    """Countersign a signed batch with the lab's results; the outcome follows the results.
    Earlier endorsements of the batch stay recorded; the new one is the latest and decides
    (:attr:`EndorseResult.overturns_pass` says when it fails a batch that had passed)."""
    from jdzhi.registry import audit
    from jdzhi.registry.db import transaction
    from jdzhi.registry.enterprises import get_enterprise
    from jdzhi.timeutil import format_time, utc_now
    from jdzhi.trace.formats.cose import dumps, sign1
    from jdzhi.trace.keys.certified import key_by_public_key, trusted_keys
    from jdzhi.trace.keys.keyfile import load_key

    report_no = report_no.strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9/_.-]{0,63}", report_no):
        raise InvalidInput(f"report number {report_no!r}: use letters, digits, / _ . - (max 64)")
    limits = load_limits(limits_file)
    encodings: list[Encoding] = []
    results = parse_results(results_file, limits, on_encoding=encodings.append)
    optional = optional_results.encoded()
    enterprise = get_enterprise(db, enterprise_ref)
    serials, ware_classes = _batch_records(db, enterprise.id, enterprise.name, batch)
    _check_coverage(results_file, results, ware_classes, batch)
    now = utc_now()
    if tested_at > now:
        raise InvalidInput("the test date lies in the future")
    key = load_key(key_file, passphrase)
    info = key_by_public_key(db, key.public_key)
    if info.role != "lab" or info.lab_id is None:
        raise InvalidInput(f"key {info.key_id} is not a testing-center key")
    if info.status_at(now) != "active":
        raise InvalidInput(f"lab key {info.key_id} is {info.status_at(now)}")
    lab_name = info.lab or ""
    if db.execute("SELECT 1 FROM endorsements WHERE lab_id = ? AND report_no = ?",
                  [info.lab_id, report_no]).fetchone():
        raise Conflict(f"report {report_no} of {lab_name} is recorded already")
    endorsement = Endorsement(
        lab_id=info.lab_id, key_id=info.key_id, enterprise_id=enterprise.id, batch=batch,
        serial_ranges=serial_ranges(serials), outcome=outcome_of(results, optional,
                                                                 limits.water_absorption),
        results=results, optional=optional, standard=limits.standard, report_no=report_no,
        tested_at=unix_time(tested_at), signed_at=unix_time(now),
    )
    message = sign1(content_type=CONTENT_TYPES["endorsement"], kid=key_kid(info.key_id),
                    payload=dumps(endorsement_payload(endorsement, limits.water_absorption)),
                    external_aad=external_aad("endorsement"), sign=key.sign)
    decoded = decode_endorsement(message, trusted_keys(db))
    with transaction(db):
        earlier = _earlier_endorsements(db, enterprise.id, batch)
        cursor = db.execute(
            "INSERT INTO endorsements (lab_id, key_id, enterprise_id, batch, outcome, report_no, "
            "tested_at, signed_at, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [info.lab_id, info.key_id, enterprise.id, batch, decoded.outcome, report_no,
             format_time(tested_at), format_time(now), message],
        )
        audit.record_row_change(db, action="lab.endorse", table="endorsements",
                                key=int(cursor.fetchone()[0]), before=None,
                                details={"outcome": decoded.outcome, "records": len(serials),
                                         "earlier": [e.report_no for e in earlier]})
    return EndorseResult(decoded, lab_name, enterprise.name, len(serials), earlier,
                         results_encoding=encodings[0])


def endorsement_json(e: Endorsement) -> dict[str, Any]:
    from jdzhi.timeutil import format_time, from_unix

    return {
        "outcome": e.outcome, "batch": e.batch, "enterprise_id": e.enterprise_id,
        "report_no": e.report_no, "standard": e.standard,
        "tested_at": format_time(from_unix(e.tested_at)),
        "serial_ranges": [list(pair) for pair in e.serial_ranges],
        "results": [{"ware_class": r.ware_class, "unit": r.unit, "pb": show_milli(r.pb),
                     "cd": show_milli(r.cd), "pb_limit": show_milli(r.pb_limit),
                     "cd_limit": show_milli(r.cd_limit), "passed": r.passed}
                    for r in e.results],
        "optional": {name: show_milli(value) if name != "ts" else bool(value)
                     for name, value in e.optional.items()},
    }
