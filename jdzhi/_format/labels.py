"""Label runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jdzhi.trace.labels.sheets import LabelRun


def label_run_json(run: LabelRun) -> dict[str, Any]:
    return {"out": str(run.out), "format": run.kind, "labels": run.labels,
            "pages": run.pages, "files": [str(f) for f in run.files],
            "max_qr_version": run.max_version, "level": run.level}
