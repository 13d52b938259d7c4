"""``jdzhi demo``: jdzhi at work on SAMPLE data, in a folder of its own.

The demo is a list of small steps (:data:`STEPS`) that share one :class:`DemoContext`. Each step
does one real thing with the library (nothing is simulated) and returns a :class:`StepReport`:
a few narrated lines for people and a JSON-ready ``data`` dict for tools. To add a step, write a
function ``(DemoContext) -> StepReport`` and put it in :data:`STEPS`; later steps can read what
earlier ones left in the context (``ctx.home``, ``ctx.sample_path``, ``ctx.facts``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.errors import Conflict, InvalidInput
from jdzhi.home import Home
from jdzhi.timeutil import CHINA_STANDARD_TIME, format_time, utc_now

if TYPE_CHECKING:
    import sqlite_utils

    from jdzhi.registry.entries import RegistryEntry

SAMPLE_COUNT = 220
DEFAULT_SEED = 7


@dataclass
class DemoContext:
    """What the steps share: the demo folder, its home, the clock, and facts steps left."""

    folder: Path
    home: Home
    now: datetime
    seed: int = DEFAULT_SEED
    sample_path: Path | None = None
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

    def to_json(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "home": str(self.home.path),
                "sample_data": True, "steps": [step.to_json() for step in self.steps]}


Step = Callable[[DemoContext], StepReport]


# ---------------------------------------------------------------- steps


def create_home(ctx: DemoContext) -> StepReport:
    from jdzhi.registry.categories import list_categories
    from jdzhi.registry.db import initialize

    result = initialize(ctx.home)
    with ctx.registry() as db:
        categories = list_categories(db)
    return StepReport(
        "home", "A fresh jdzhi home",
        (f"Created a new home at {ctx.home.path} with an empty registry database.",
         f"It starts with {len(categories)} product categories: "
         + "、".join(category.name_zh for category in categories) + "."),
        {"registry": result.path, "categories": [category.code for category in categories]},
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
    from jdzhi.registry.entries import import_file

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


#: the demo, in order; later features append their steps here
STEPS: list[Step] = [
    create_home,
    write_sample_registry,
    import_sample_registry,
    registry_overview,
    suspend_with_past_effect,
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
    return DemoResult(folder=target, home=ctx.home, steps=tuple(reports))
