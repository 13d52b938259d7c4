"""The demo's registry steps: the service center sets up, imports a SAMPLE registry, looks at
it, records a suspension after the fact and audits every change."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING

from jdzhi._format.registry import entry_json
from jdzhi.demo.context import DEMO_PASSPHRASE, PASSPHRASE_FILE, DemoContext, StepReport, yes
from jdzhi.timeutil import CHINA_STANDARD_TIME, format_time

if TYPE_CHECKING:
    from jdzhi.registry.db import Database
    from jdzhi.registry.entries import RegistryEntry

SAMPLE_COUNT = 220


def create_home(ctx: DemoContext) -> StepReport:
    from jdzhi.registry.categories import list_categories
    from jdzhi.trace.keys.home_setup import initialize_home

    passphrase_path = ctx.folder / PASSPHRASE_FILE
    passphrase_path.write_text(DEMO_PASSPHRASE + "\n", encoding="utf-8")
    setup = initialize_home(ctx.home, ctx.passphrase, None, simulated_clock=True)
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
        {"registry": setup.registry.path, "authority_kid": setup.authority.kid,
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
         "examples": {status: entry_json(entry) for status, entry in sorted(examples.items())}},
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
         f"Valid one second before that moment: {yes(before)}; from that moment on: "
         f"{yes(after)}. Checks ask about the moment an item was signed, not just today."),
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
         f"{yes(report.ok)}.",
         "A change made with another tool behind jdzhi's back would show up here "
         "(`jdzhi registry audit` exits 1)."),
        {"ok": report.ok, "entries": report.entries, "head_hash": report.head_hash,
         "problems": list(report.problems)},
    )


def _audit_entries(db: Database) -> int:
    return int(db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0])
