"""``jdzhi demo``: jdzhi at work on SAMPLE data, in a folder of its own.

The demo is a list of small steps (:data:`STEPS`) that share one :class:`DemoContext`. Each step
does one real thing with the library (nothing is simulated) and returns a :class:`StepReport`:
a few narrated lines for people and a JSON-ready ``data`` dict for tools. To add a step, write a
function ``(DemoContext) -> StepReport`` and put it in :data:`STEPS`; later steps can read what
earlier ones left in the context (``ctx.home``, ``ctx.sample_path``, ``ctx.facts``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import Conflict, InvalidInput, InvalidState
from jdzhi.home import Home
from jdzhi.timeutil import CHINA_STANDARD_TIME, format_time, utc_now

if TYPE_CHECKING:
    import sqlite_utils

    from jdzhi.registry.entries import RegistryEntry
    from jdzhi.trace.scanning.decode import ScanOutcome

SAMPLE_COUNT = 220
DEFAULT_SEED = 7
#: the passphrase of every key the demo makes: DEMO ONLY, written beside the keys on purpose
DEMO_PASSPHRASE = "demo-only passphrase, not a secret"
PASSPHRASE_FILE = "DEMO-PASSPHRASE.txt"


@dataclass
class DemoContext:
    """What the steps share: the demo folder, its home, the clock, and facts steps left."""

    folder: Path
    home: Home
    now: datetime
    seed: int = DEFAULT_SEED
    sample_path: Path | None = None
    passphrase: bytes = DEMO_PASSPHRASE.encode()
    #: every verdict the story met, in order, for the closing table
    verdicts: list[VerdictRow] = field(default_factory=list)
    #: free-form results of earlier steps, keyed by step, for later steps
    facts: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def registry(self) -> Iterator[sqlite_utils.Database]:
        from jdzhi.registry.db import open_registry

        db = open_registry(self.home)
        try:
            yield db
        finally:
            db.close()


@dataclass(frozen=True)
class VerdictRow:
    """One verdict the story met: what was checked, how, what the library said and what the
    story expects (a mismatch is shown, never hidden)."""

    step: str
    subject: str
    method: str
    verdict: str
    expected: str

    @property
    def as_expected(self) -> bool:
        return self.verdict == self.expected

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "subject": self.subject, "method": self.method,
                "verdict": self.verdict, "expected": self.expected,
                "as_expected": self.as_expected}


@dataclass(frozen=True)
class StepReport:
    key: str
    title: str
    lines: tuple[str, ...]
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"step": self.key, "title": self.title, "summary": list(self.lines),
                "data": self.data}


@dataclass(frozen=True)
class DemoResult:
    folder: Path
    home: Home
    steps: tuple[StepReport, ...]
    verdicts: tuple[VerdictRow, ...] = ()
    #: every file the demo wrote, relative to ``folder`` (the home's files included)
    files: tuple[str, ...] = ()

    @property
    def all_as_expected(self) -> bool:
        return all(row.as_expected for row in self.verdicts)

    def to_json(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "home": str(self.home.path),
                "sample_data": True, "steps": [step.to_json() for step in self.steps],
                "verdicts": [row.to_json() for row in self.verdicts],
                "all_as_expected": self.all_as_expected, "files": list(self.files)}


Step = Callable[[DemoContext], StepReport]


# ---------------------------------------------------------------- steps


def create_home(ctx: DemoContext) -> StepReport:
    from jdzhi.registry.categories import list_categories
    from jdzhi.trace.keys.certified import initialize_home

    passphrase_path = ctx.folder / PASSPHRASE_FILE
    passphrase_path.write_text(DEMO_PASSPHRASE + "\n", encoding="utf-8")
    setup = initialize_home(ctx.home, ctx.passphrase, None)
    with ctx.registry() as db:
        categories = list_categories(db)
    return StepReport(
        "home", "The traceability service center sets up",
        (f"Created a new home at {ctx.home.path}: an empty registry database and the "
         f"authority key {setup.authority.kid} (Ed25519, encrypted) that certifies every other.",
         f"The demo's keys share the passphrase in {passphrase_path}: DEMO ONLY, never "
         "protect a real key with a passphrase written to a file beside it.",
         f"It starts with {len(categories)} product categories: "
         + "、".join(category.name_zh for category in categories) + "."),
        {"registry": setup.registry_path, "authority_kid": setup.authority.kid,
         "authority_key": setup.authority.key_path, "passphrase_file": str(passphrase_path),
         "base_url": setup.base_url, "categories": [category.code for category in categories]},
    )


def write_sample_registry(ctx: DemoContext) -> StepReport:
    from jdzhi.registry.sample import write_sample

    path = ctx.folder / "sample-registry.csv"
    as_of = ctx.now.astimezone(CHINA_STANDARD_TIME).date()
    result = write_sample(path, count=SAMPLE_COUNT, seed=ctx.seed, as_of=as_of)
    ctx.sample_path = path
    mix = ", ".join(f"{count} {status}" for status, count in result.statuses.items())
    return StepReport(
        "sample", "A SAMPLE registry file",
        (f"Wrote {result.count} fictitious enterprises to {path} (seed {ctx.seed}).",
         "They are SAMPLE data, labelled as such: valid USCCs, Jingdezhen's real district codes, "
         f"a realistic mix of categories and statuses ({mix})."),
        {"path": str(path), "count": result.count, "seed": ctx.seed,
         "as_of": as_of.isoformat(), "statuses": result.statuses},
    )


def import_sample_registry(ctx: DemoContext) -> StepReport:
    from jdzhi.registry.exchange import import_file

    assert ctx.sample_path is not None, "the sample step runs first"
    with ctx.registry() as db:
        result = import_file(db, ctx.sample_path)
        entries = _audit_entries(db)
    return StepReport(
        "import", "Importing it, all or nothing",
        (f"Imported {result.count} enterprises and their licenses in one transaction: had any "
         "row been wrong, the import would have named it and stored nothing.",
         f"Every row written has an entry in the hash-chained audit log ({entries} so far)."),
        {"imported": result.count, "audit_entries": entries, "warnings": list(result.warnings)},
    )


def registry_overview(ctx: DemoContext) -> StepReport:
    from jdzhi.registry.categories import list_categories
    from jdzhi.registry.entries import list_entries
    from jdzhi.registry.schema import DISTRICTS

    with ctx.registry() as db:
        entries = list_entries(db, moment=ctx.now)
        names = {category.code: category.name_zh for category in list_categories(db)}
    statuses = Counter(entry.status for entry in entries)
    districts = Counter(entry.enterprise.district_code for entry in entries)
    categories = Counter(code for entry in entries for code in entry.license.categories)
    examples: dict[str, RegistryEntry] = {}
    for entry in entries:
        examples.setdefault(entry.status, entry)
    lines = [
        "Status now: " + ", ".join(f"{n} {s}" for s, n in statuses.most_common()) + ".",
        "By district: " + ", ".join(
            f"{DISTRICTS[code]} {n}" for code, n in districts.most_common()) + ".",
        "Most licensed categories: " + ", ".join(
            f"{names[code]} {n}" for code, n in categories.most_common(5)) + ".",
    ]
    lines += [
        f"e.g. {status}: {entry.enterprise.name} ({entry.license.license_no}, valid to "
        f"{entry.license.valid_to})" for status, entry in sorted(examples.items())
    ]
    ctx.facts["overview"] = {"examples": {s: e.license.license_no for s, e in examples.items()}}
    return StepReport(
        "overview", "The registry at a glance", tuple(lines),
        {"enterprises": len(entries), "statuses": dict(statuses),
         "districts": dict(districts), "categories": dict(categories),
         "examples": {status: entry.to_json() for status, entry in sorted(examples.items())}},
    )


def suspend_with_past_effect(ctx: DemoContext) -> StepReport:
    from jdzhi.registry.licenses import change_status, is_valid_at

    license_no = ctx.facts["overview"]["examples"]["active"]
    effective = ctx.now - timedelta(days=3)
    with ctx.registry() as db:
        change = change_status(
            db, license_no, "suspend", effective_at=effective,
            reason="demo (sample data): spot check found a glaze defect",
        )
        license_id = change.license.id
        before = is_valid_at(db, license_id, effective - timedelta(seconds=1))
        after = is_valid_at(db, license_id, effective)
    ctx.facts["suspend"] = {"license_no": license_no}
    return StepReport(
        "suspend", "A suspension recorded after the fact",
        (f"Suspended license {license_no} today, effective three days ago "
         f"({format_time(effective)}).",
         f"Valid one second before that moment: {_yes(before)}; from that moment on: "
         f"{_yes(after)}. Checks ask about the moment an item was signed, not just today."),
        {"license_no": license_no, "effective_at": format_time(effective),
         "valid_before": before, "valid_after": after},
    )


def audit_registry_step(ctx: DemoContext) -> StepReport:
    from jdzhi.registry.entries import audit_registry

    with ctx.registry() as db:
        report = audit_registry(db)
    return StepReport(
        "audit", "Auditing every change",
        (f"The audit log holds {report.entries} entries; chain and rows check out: "
         f"{_yes(report.ok)}.",
         "A change made with another tool behind jdzhi's back would show up here "
         "(`jdzhi registry audit` exits 1)."),
        {"ok": report.ok, "entries": report.entries, "head_hash": report.head_hash,
         "problems": list(report.problems)},
    )


BATCH = "DEMO-2026-A"
#: the pieces of the demo batch: (name, ware class); SAMPLE products of a fictitious workshop
PIECES = (
    ("青花缠枝莲纹梅瓶 (SAMPLE)", "large-hollow"),
    ("青花山水纹盘 (SAMPLE)", "flat"),
    ("青花折枝花果纹碗 (SAMPLE)", "small-hollow"),
    ("青花婴戏图杯 (SAMPLE)", "cups"),
    ("青花龙纹大罐 (SAMPLE)", "storage"),
    ("青花鱼藻纹盘 (SAMPLE)", "flat"),
)
FIRST_SERIAL = 260001
#: the testing center's (SAMPLE) release results: mg/dm2 for flat ware, else mg/L
LAB_RESULTS = (("flat", "0.12", "0.010"), ("small-hollow", "0.08", "0.020"),
               ("large-hollow", "0.05", "0.010"), ("cups", "0.09", "0.015"),
               ("storage", "0.04", "0.010"))


def _dir(ctx: DemoContext, name: str) -> Path:
    path = ctx.folder / name
    path.mkdir(exist_ok=True)
    return path


def workshop_key(ctx: DemoContext) -> StepReport:
    from jdzhi.registry.entries import list_entries
    from jdzhi.trace.keys.certified import issue_licensee_key

    suspended = ctx.facts.get("suspend", {}).get("license_no")
    with ctx.registry() as db:
        candidates = [entry for entry in list_entries(db, status="active", category="qinghua")
                      if entry.license.license_no != suspended]
        if not candidates:
            raise InvalidState("the sample registry has no active blue-and-white workshop")
        workshop = candidates[0]
        out = _dir(ctx, "keys") / "workshop.key"
        issued = issue_licensee_key(ctx.home, db, workshop.license.license_no, out=out,
                                    authority_passphrase=ctx.passphrase,
                                    key_passphrase=ctx.passphrase)
    key = issued.key
    ctx.facts["workshop"] = {"enterprise": workshop.enterprise.name,
                             "short_name": workshop.enterprise.short_name,
                             "enterprise_id": workshop.enterprise.id,
                             "license_no": workshop.license.license_no,
                             "key_id": key.key_id, "key_path": out}
    return StepReport(
        "workshop", "A workshop gets a certified key",
        (f"{workshop.enterprise.name} (license {workshop.license.license_no}, "
         f"{workshop.enterprise.district_name}) is licensed for 青花 blue-and-white.",
         f"The authority certified its new signing key {key.key_id}, valid to "
         f"{format_time(key.not_after)}; the private key is in {out} (0600, encrypted)."),
        {"enterprise": workshop.enterprise.name, "enterprise_id": workshop.enterprise.id,
         "license_no": workshop.license.license_no, "key_id": key.key_id,
         "key_path": str(out), "not_after": format_time(key.not_after)},
    )


def write_records_csv(path: Path, day: date) -> None:
    lines = ["serial,batch,category,production_date,name,ware_class"]
    lines += [f"{FIRST_SERIAL + index},{BATCH},qinghua,{day.isoformat()},{name},{ware}"
              for index, (name, ware) in enumerate(PIECES)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def sign_batch(ctx: DemoContext) -> StepReport:
    from jdzhi.trace.keys.keyfile import load_key
    from jdzhi.trace.signing.batch import sign_csv

    workshop = ctx.facts["workshop"]
    records = ctx.folder / "batch-records.csv"
    write_records_csv(records, utc_now().astimezone(CHINA_STANDARD_TIME).date())
    out = ctx.folder / "SIGNED.jsonl"
    key = load_key(workshop["key_path"], ctx.passphrase)
    with ctx.registry() as db:
        summary = sign_csv(db, records, key=key, out=out)
    signed = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    ctx.facts["signed"] = {"signed_at": summary.signed_at, "path": out, "entries": signed,
                           "base_url": summary.base_url}
    return StepReport(
        "sign", "It signs a batch",
        (f"{records.name}: {summary.count} SAMPLE pieces of batch {BATCH}; every row was "
         "checked (serials, category, license valid on the production date) before signing.",
         f"Signed with key {summary.key_id} at {format_time(summary.signed_at)}, each piece "
         "in two forms: a 77-byte QR label and a full COSE record, in "
         f"{out} (one audit entry for the batch)."),
        {"records_csv": str(records), "signed": summary.count, "out": str(out),
         "key_id": summary.key_id, "signed_at": format_time(summary.signed_at),
         "batch": BATCH, "serials": [entry["serial"] for entry in signed],
         "records_sha256": summary.records_sha256},
    )


def print_labels(ctx: DemoContext) -> StepReport:
    from jdzhi.trace.labels.sheets import ImageFormat, read_signed, render_labels

    labels = read_signed(ctx.facts["signed"]["path"])
    folder = _dir(ctx, "labels")
    sheet = render_labels(labels, folder / f"sheet-{BATCH}.pdf")
    pngs = render_labels(labels, folder / "png", image_format=ImageFormat.PNG)
    ctx.facts["labels"] = {"png": {label.serial: path for label, path
                                   in zip(labels, pngs.files, strict=True)}}
    return StepReport(
        "labels", "It prints the labels",
        (f"{sheet.out}: a print-ready sheet of {sheet.labels} labels ({sheet.pages} page, "
         f"QR version {sheet.max_version} at level {sheet.level}, 景德镇制 mark, serial, "
         "category).",
         f"{pngs.out}/: the same labels as {len(pngs.files)} PNGs, one per piece."),
        {"pdf": str(sheet.out), "pages": sheet.pages, "png": [str(f) for f in pngs.files],
         "max_qr_version": sheet.max_version, "level": sheet.level},
    )


def lab_endorsement(ctx: DemoContext) -> StepReport:
    from jdzhi.trace.endorsements.lab import add_lab, endorse_batch, show_milli

    workshop = ctx.facts["workshop"]
    results = ctx.folder / "lab-results.csv"
    results.write_text("ware_class,pb,cd\n" + "".join(
        f"{ware},{pb},{cd}\n" for ware, pb, cd in LAB_RESULTS), encoding="utf-8")
    key_path = _dir(ctx, "keys") / "lab.key"
    with ctx.registry() as db:
        lab = add_lab(ctx.home, db, "景德镇陶瓷检测中心 (SAMPLE)",
                      accreditation="CNAS L00000 (sample)", out=key_path,
                      authority_passphrase=ctx.passphrase, key_passphrase=ctx.passphrase)
        endorsed = endorse_batch(
            db, key_file=key_path, passphrase=ctx.passphrase,
            enterprise_ref=workshop["license_no"], batch=BATCH, results_file=results,
            report_no="JDZ-LAB-DEMO-0001", tested_at=utc_now(), water_absorption="0.3",
            thermal_shock=True,
        )
    endorsement = endorsed.endorsement
    shown = ", ".join(f"{r.ware_class} Pb {show_milli(r.pb)}/{show_milli(r.pb_limit)} "
                      f"Cd {show_milli(r.cd)}/{show_milli(r.cd_limit)} {r.unit}"
                      for r in endorsement.results)
    return StepReport(
        "lab", "The testing center endorses the batch",
        (f"{lab.name} got its own certified key {lab.key_id} ({key_path}).",
         f"Its release results against {endorsement.standard} (measured/limit): {shown}.",
         f"Outcome {endorsement.outcome.upper()} for the {endorsed.records} pieces of batch "
         f"{BATCH}, countersigned as report {endorsement.report_no}: every label of the batch "
         "now shows the endorsement."),
        {"lab": lab.name, "lab_key_id": lab.key_id, "results_csv": str(results),
         "outcome": endorsement.outcome, "report_no": endorsement.report_no,
         "standard": endorsement.standard, "records": endorsed.records},
    )


#: where the inspectors scan: (name, "latitude,longitude")
JINGDEZHEN = ("景德镇", "29.27,117.18")
URUMQI = ("乌鲁木齐", "43.83,87.62")


@dataclass(frozen=True)
class Sighting:
    """A phone photo an inspector scans, and the verdict the story expects of it."""

    subject: str
    photo: Path
    expected: str


def _photograph(ctx: DemoContext, label_png: Path, name: str, seed: int,
                piece: int) -> Path:
    """A simulated phone photo of a label stuck on a SAMPLE porcelain piece."""
    from PIL import Image

    from jdzhi.demo.images import WORKS, backdrop
    from jdzhi.demo.photosim import PhotoConditions, simulate_photo

    conditions = PhotoConditions()
    with Image.open(label_png) as label:
        photo = simulate_photo(label.convert("RGB"), seed=ctx.seed * 1000 + seed,
                               conditions=conditions,
                               background=backdrop(WORKS[piece % len(WORKS)], *conditions.frame))
    path = _dir(ctx, "photos") / f"{name}.jpg"
    photo.save(path, format="JPEG", quality=90)
    return path


def _render_label(ctx: DemoContext, folder: str, serial: str, text: str) -> Path:
    """The PNG of a label that is not in SIGNED.jsonl (a forged or an unregistered one)."""
    from jdzhi.trace.labels.sheets import ImageFormat, LabelData, render_labels

    workshop = ctx.facts["workshop"]
    label = LabelData(serial=serial, text=text, enterprise=workshop["short_name"],
                      category="青花")
    run = render_labels([label], _dir(ctx, "labels") / folder, image_format=ImageFormat.PNG)
    return run.files[0]


def _scan(ctx: DemoContext, step: str, sighting: Sighting, *, place: tuple[str, str],
          moment: datetime, bundle: Path | None = None) -> ScanOutcome:
    """Scan a photo as an inspector at ``place``: with the registry (logged, so clones show) or
    with the trust bundle alone (``bundle``; nothing logged, no registry opened)."""
    from jdzhi.trace.scanning.log import scan

    if bundle is None:
        run = scan([sighting.photo], home=ctx.home, inspector="demo inspector (SAMPLE)",
                   location=place[1], now=moment)
        method = f"photo at {place[0]}, registry"
    else:
        # an inspector's phone with no registry at all: a home that does not exist is never
        # opened when nothing is logged and the authority key is pinned
        run = scan([sighting.photo], home=Home(ctx.folder / "no-registry"), bundle=bundle,
                   authority=ctx.facts["authority_public_key"], log=False, now=moment)
        method = "photo, trust bundle only"
    outcome = run.outcomes[0]
    ctx.verdicts.append(VerdictRow(step, sighting.subject, method, outcome.verdict,
                                   sighting.expected))
    ctx.facts.setdefault("sightings", {}).setdefault(step, []).append(sighting)
    return outcome


def _tampered(label: str, base: str) -> str:
    """The label with one character of its serial changed, as a forger would."""
    position = len(base) + 10  # base32 characters 8..12 of the payload carry the serial
    swapped = "B" if label[position] != "B" else "C"
    return label[:position] + swapped + label[position + 1:]


def _line(sighting: Sighting, outcome: ScanOutcome) -> str:
    reason = outcome.reasons[-1] if outcome.verdict != "genuine" else outcome.reasons[0]
    return f"{sighting.subject}: {outcome.verdict} — {reason}"


def _step_verdicts(ctx: DemoContext, step: str) -> list[dict[str, Any]]:
    return [row.to_json() for row in ctx.verdicts if row.step == step]


def inspect_labels(ctx: DemoContext) -> StepReport:
    from jdzhi.trace.formats.labels import decode_label_text

    entries = ctx.facts["signed"]["entries"]
    base = ctx.facts["signed"]["base_url"]
    pngs = ctx.facts["labels"]["png"]
    first, second = entries[0], entries[1]
    forged_text = _tampered(second["label"], base)
    forged_serial = str(decode_label_text(forged_text, (base,)).fields.serial)
    forged_png = _render_label(ctx, "forged", forged_serial, forged_text)
    sightings = (
        Sighting(f"piece {first['serial']}",
                 _photograph(ctx, pngs[first["serial"]], f"{first['serial']}-jingdezhen", 1, 0),
                 "genuine"),
        Sighting(f"a copy of piece {second['serial']} relabelled {forged_serial}",
                 _photograph(ctx, forged_png, f"forged-{forged_serial}", 2, 1), "tampered"),
    )
    moment = utc_now()
    lines = [f"Simulated phone photos (tilted, curved, blurred, glare, JPEG) of labels on SAMPLE "
             f"porcelain pictures, in {ctx.folder / 'photos'}; scanned at {JINGDEZHEN[0]} "
             f"({JINGDEZHEN[1]})."]
    for sighting in sightings:
        outcome = _scan(ctx, "inspect", sighting, place=JINGDEZHEN, moment=moment)
        lines.append(_line(sighting, outcome))
    lines.append(f"The forged label ({forged_png}) copies a genuine one with one character of "
                 "its serial changed: its signature no longer verifies.")
    return StepReport("inspect", "An inspector scans labelled pieces", tuple(lines),
                      {"photos": [str(s.photo) for s in sightings], "forged_label": str(forged_png),
                       "verdicts": _step_verdicts(ctx, "inspect")})


def revoke_and_rogue_piece(ctx: DemoContext) -> StepReport:
    from jdzhi.registry.categories import get_category
    from jdzhi.registry.licenses import change_status
    from jdzhi.trace.formats.common import unix_time
    from jdzhi.trace.formats.records import RecordFields, sign_record
    from jdzhi.trace.keys.keyfile import load_key

    workshop = ctx.facts["workshop"]
    signed = ctx.facts["signed"]
    first = signed["entries"][0]
    # the revocation takes effect after the batch was signed: now, or one second after the
    # signing if the clock has not moved on since (the demo never sleeps)
    effective = max(utc_now(), signed["signed_at"] + timedelta(seconds=1))
    with ctx.registry() as db:
        change_status(db, workshop["license_no"], "revoke", effective_at=effective,
                      reason="demo (sample data): labels found on pieces from another kiln")
        category = get_category(db, first["category"])
    # the workshop still holds its key and labels a piece the registry would no longer sign
    key = load_key(workshop["key_path"], ctx.passphrase)
    rogue_serial = FIRST_SERIAL + len(PIECES)
    rogue = sign_record(RecordFields(
        key_id=workshop["key_id"], serial=rogue_serial, signed_at=unix_time(effective),
        category=category.label_code, enterprise_id=workshop["enterprise_id"], batch=BATCH,
        category_code=category.code, production_date=date.fromisoformat(
            first["production_date"]),
    ), key.sign)
    rogue_png = _render_label(ctx, "after-revocation", str(rogue_serial),
                              rogue.label.text(signed["base_url"]))
    earlier = Sighting(f"piece {first['serial']}, signed before the revocation",
                       ctx.facts["sightings"]["inspect"][0].photo, "genuine")
    later = Sighting(f"piece {rogue_serial}, signed after the revocation",
                     _photograph(ctx, rogue_png, f"{rogue_serial}-after-revocation", 3, 2),
                     "revoked")
    lines = [f"License {workshop['license_no']} of {workshop['enterprise']} revoked, effective "
             f"{format_time(effective)}. The workshop kept its key and labelled piece "
             f"{rogue_serial} afterwards ({rogue_png})."]
    moment = utc_now()
    for sighting in (earlier, later):
        outcome = _scan(ctx, "revoke", sighting, place=JINGDEZHEN, moment=moment)
        lines.append(_line(sighting, outcome))
    return StepReport("revoke", "The workshop's license is revoked", tuple(lines),
                      {"license_no": workshop["license_no"],
                       "effective_at": format_time(effective), "rogue_label": str(rogue_png),
                       "verdicts": _step_verdicts(ctx, "revoke")})


def clone_across_china(ctx: DemoContext) -> StepReport:
    from jdzhi.trace.scanning.log import report

    entry = ctx.facts["signed"]["entries"][2]
    png = ctx.facts["labels"]["png"][entry["serial"]]
    here = Sighting(f"piece {entry['serial']} at {JINGDEZHEN[0]}",
                    _photograph(ctx, png, f"{entry['serial']}-jingdezhen", 4, 3), "genuine")
    there = Sighting(f"piece {entry['serial']} at {URUMQI[0]}, an hour later",
                     _photograph(ctx, png, f"{entry['serial']}-urumqi", 5, 4), "suspected-clone")
    first_at = utc_now()
    outcomes = [_scan(ctx, "clone", here, place=JINGDEZHEN, moment=first_at),
                _scan(ctx, "clone", there, place=URUMQI, moment=first_at + timedelta(hours=1))]
    lines = [f"The same genuine label, photographed at {JINGDEZHEN[0]} ({JINGDEZHEN[1]}) and "
             f"an hour later at {URUMQI[0]} ({URUMQI[1]}); every scan goes into the scan log."]
    lines += [f"{sighting.subject}: {outcome.verdict}"
              + (f" — {outcome.reasons[-2]}" if outcome.verdict != "genuine" else "")
              for sighting, outcome in zip((here, there), outcomes, strict=True)]
    log = report(ctx.home)
    lines.append(f"The scan log now holds {log.total} scans ("
                 + ", ".join(f"{n} {verdict}" for verdict, n in sorted(log.verdicts.items()))
                 + f"); `jdzhi --home {ctx.home.path} scans report` lists the suspected clones.")
    return StepReport("clone", "One label, two places at once", tuple(lines),
                      {"serial": entry["serial"], "verdicts": _step_verdicts(ctx, "clone"),
                       "scan_log": log.to_json()})


def offline_bundle(ctx: DemoContext) -> StepReport:
    from jdzhi.trace.formats.records import base64url
    from jdzhi.trace.page.export import export_page
    from jdzhi.trace.trust.bundle import export_bundle

    out = ctx.folder / "trust-bundle.cbor"
    exported = export_bundle(ctx.home, out, ctx.passphrase)
    ctx.facts["authority_public_key"] = exported.authority_public_key
    authority = ctx.folder / "authority.pub"
    authority.write_bytes((ctx.home.keys_dir / "authority.pub").read_bytes())
    page = export_page(ctx.home, ctx.folder / "phone-page", bundle=out,
                       authority=exported.authority_public_key)
    online = {row.subject: row.verdict for row in ctx.verdicts}
    sightings = [*ctx.facts["sightings"]["inspect"], *ctx.facts["sightings"]["revoke"]]
    moment = utc_now()
    same = sum(online[s.subject] == _scan(ctx, "offline", s, place=JINGDEZHEN, moment=moment,
                                          bundle=out).verdict for s in sightings)
    return StepReport(
        "offline", "Offline: the trust bundle alone",
        (f"Exported {out} ({exported.size} bytes: {exported.keys} keys, {exported.enterprises} "
         f"enterprises, {exported.endorsements} endorsement), signed by the authority, valid "
         f"until {format_time(exported.expires_at)}.",
         f"Scanning the same photos with only the bundle and the authority public key "
         f"({authority.name}), no registry: {same} of {len(sightings)} verdicts are the same as "
         "the registry's. (Clone checks need the shared scan log, so they stay online.)",
         f"The phone page a label's URL opens checks the same signatures in the browser: "
         f"{page.path} (try `jdzhi serve --dir {page.path}` and open a label's URL with "
         "its base replaced by the address shown)."),
        {"bundle": str(out), "bytes": exported.size, "authority_public_key":
         base64url(exported.authority_public_key), "same_verdicts": same,
         "checked": len(sightings), "phone_page": page.path,
         "verdicts": _step_verdicts(ctx, "offline")},
    )


def screen_designs(ctx: DemoContext) -> StepReport:
    from jdzhi.demo.images import (
        LOOK_ALIKE,
        OWNER,
        WORKS,
        cropped_mirror,
        draw_piece,
        registration_no,
        save_sample_png,
    )
    from jdzhi.similarity.report import check_report_path, write_report
    from jdzhi.similarity.screen import screen_paths
    from jdzhi.similarity.works import import_works

    works_dir = _dir(ctx, "works")
    rows = ["image,reg_no,title,owner,creation_date"]
    for index, design in enumerate(WORKS, start=1):
        image = save_sample_png(draw_piece(design), works_dir / f"{design.slug}.png")
        rows.append(f"{image.name},{registration_no(index)},{design.name},{OWNER},2025-0{index}-15")
    works_csv = works_dir / "works.csv"
    works_csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    submissions = _dir(ctx, "submissions")
    original = WORKS[0]
    copy = save_sample_png(cropped_mirror(draw_piece(original)),
                           submissions / f"cropped-mirrored-{original.slug}.png")
    look_alike = save_sample_png(draw_piece(LOOK_ALIKE),
                                 submissions / f"look-alike-{LOOK_ALIKE.slug}.png")
    report_path = ctx.folder / "screening-report.html"
    check_report_path(report_path, force=False)
    with ctx.registry() as db:
        works = import_works(db, works_csv)
        results = screen_paths(db, [copy, look_alike], top=3)
        write_report(db, results, report_path)
    cases = ((f"{copy.name}: {original.name} cropped and mirrored", "copy"),
             (f"{look_alike.name}: same shape and palette, another pattern", "clear"))
    lines = [f"Registered {len(works)} SAMPLE works of {OWNER} from {works_csv} (each picture "
             "drawn procedurally: blue-and-white vases, jars, plates and bowls)."]
    for (subject, expected), result in zip(cases, results, strict=True):
        ctx.verdicts.append(VerdictRow("screen", subject, "works screen", result.verdict,
                                       expected))
        best = result.matches[0] if result.matches else None
        shown = (f" — best match {best.reg_no} {best.title}, distance {best.distance}, "
                 f"score {best.score:.2f}"
                 + (f", {best.modification}" if best.modification else "")) if best else ""
        lines.append(f"{subject}: {result.verdict}{shown}")
    lines.append(f"The officer's visual report, each submission beside its matches: "
                 f"{report_path}")
    return StepReport("screen", "A copyright officer screens submissions", tuple(lines),
                      {"works": [work.reg_no for work in works], "works_csv": str(works_csv),
                       "report": str(report_path),
                       "screenings": [result.to_json() for result in results],
                       "verdicts": _step_verdicts(ctx, "screen")})


#: the demo, in order; later features append their steps here
STEPS: list[Step] = [
    create_home,
    write_sample_registry,
    import_sample_registry,
    registry_overview,
    suspend_with_past_effect,
    workshop_key,
    sign_batch,
    print_labels,
    lab_endorsement,
    inspect_labels,
    revoke_and_rogue_piece,
    clone_across_china,
    offline_bundle,
    screen_designs,
    audit_registry_step,
]


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _audit_entries(db: sqlite_utils.Database) -> int:
    return int(db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0])


# ---------------------------------------------------------------- running


def prepare_folder(folder: Path | None, *, now: datetime, parent: Path | None = None) -> Path:
    """The demo's folder: ``folder`` when it is new or empty, else a new
    ``jdzhi-demo-<timestamp>`` in ``parent`` (default: the current folder)."""
    if folder is not None:
        folder = folder.expanduser().resolve()
        if folder.exists():
            if not folder.is_dir():
                raise InvalidInput(f"{folder} is a file, not a folder")
            if any(folder.iterdir()):
                raise Conflict(f"{folder} is not empty; give a new or empty folder")
        return folder
    base = (parent or Path.cwd()).resolve()
    stamp = now.astimezone(CHINA_STANDARD_TIME).strftime("%Y%m%d-%H%M%S")
    candidate = base / f"jdzhi-demo-{stamp}"
    number = 2
    while candidate.exists():
        candidate = base / f"jdzhi-demo-{stamp}-{number}"
        number += 1
    return candidate


def run_demo(
    folder: Path | None = None,
    *,
    seed: int = DEFAULT_SEED,
    steps: Sequence[Step] | None = None,
    on_step: Callable[[StepReport], None] | None = None,
) -> DemoResult:
    """Run every step in a new folder; ``on_step`` sees each report as soon as it is ready."""
    now = utc_now()
    target = prepare_folder(folder, now=now)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidInput(f"cannot create the demo folder {target}: {error.strerror}") from None
    ctx = DemoContext(folder=target, home=Home(target / "home"), now=now, seed=seed)
    reports: list[StepReport] = []
    for step in STEPS if steps is None else steps:
        report = step(ctx)
        reports.append(report)
        if on_step is not None:
            on_step(report)
    return DemoResult(folder=target, home=ctx.home, steps=tuple(reports),
                      verdicts=tuple(ctx.verdicts), files=files_in(target))


def files_in(folder: Path) -> tuple[str, ...]:
    """The files under ``folder``, relative and sorted (SQLite's transient -wal/-shm left out)."""
    return tuple(sorted(
        str(path.relative_to(folder)) for path in folder.rglob("*")
        if path.is_file() and not path.name.endswith(("-wal", "-shm"))
    ))
