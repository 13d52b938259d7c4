"""``jdzhi demo``: its steps, the verdicts it met, and the whole run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jdzhi.demo.context import DemoContext, DemoResult, StepReport, VerdictRow


def verdict_row_json(row: VerdictRow) -> dict[str, Any]:
    return {"step": row.step, "subject": row.subject, "method": row.method,
            "verdict": row.verdict, "expected": row.expected, "as_expected": row.as_expected}


def step_verdicts_json(ctx: DemoContext, step: str) -> list[dict[str, Any]]:
    """The verdicts ``step`` met, for its report's data."""
    return [verdict_row_json(row) for row in ctx.verdicts if row.step == step]


def step_report_json(report: StepReport) -> dict[str, Any]:
    return {"step": report.key, "title": report.title, "summary": list(report.lines),
            "data": report.data}


def demo_result_json(result: DemoResult) -> dict[str, Any]:
    return {"folder": str(result.folder), "home": str(result.home.path),
            "sample_data": True, "steps": [step_report_json(step) for step in result.steps],
            "verdicts": [verdict_row_json(row) for row in result.verdicts],
            "all_as_expected": result.all_as_expected, "files": list(result.files)}
