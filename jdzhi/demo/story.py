"""``jdzhi demo``: jdzhi at work on SAMPLE data, in a folder of its own.

The demo is a list of small steps (:data:`STEPS`) that share one
:class:`~jdzhi.demo.context.DemoContext`. To add a step, write a function
``(DemoContext) -> StepReport`` and put it in :data:`STEPS`; later steps can read what earlier
ones left in the context.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from jdzhi.demo._inspection_steps import (
    clone_across_china,
    inspect_labels,
    offline_bundle,
    revoke_and_rogue_piece,
)
from jdzhi.demo._online_steps import (
    center_online,
    consumer_page_scan,
    inspectors_flag_clone,
    kiln_signs_and_pushes,
)
from jdzhi.demo._registry_steps import (
    audit_registry_step,
    create_home,
    import_sample_registry,
    registry_overview,
    suspend_with_past_effect,
    write_sample_registry,
)
from jdzhi.demo._screening_step import screen_designs
from jdzhi.demo._workshop_steps import lab_endorsement, print_labels, sign_batch, workshop_key
from jdzhi.demo.context import DEFAULT_SEED, DemoContext, DemoResult, Step, StepReport
from jdzhi.errors import Conflict, InvalidInput
from jdzhi.home import Home
from jdzhi.timeutil import CHINA_STANDARD_TIME, utc_now

__all__ = ["STEPS", "files_in", "prepare_folder", "run_demo"]

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
    center_online,
    kiln_signs_and_pushes,
    consumer_page_scan,
    inspectors_flag_clone,
    screen_designs,
    audit_registry_step,
]


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
    with ctx.cleanup:  # a server a step started is stopped even when a later step fails
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
