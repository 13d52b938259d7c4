"""``jdzhi demo``: see jdzhi do its job on SAMPLE data, in a new folder of its own."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from jdzhi._format.demo import demo_result_json
from jdzhi.commands import _common as common

if TYPE_CHECKING:
    from jdzhi.demo.context import DemoResult, StepReport


__all__ = ["demo"]

def demo(
    folder: Annotated[Path | None, typer.Option(
        "--dir", metavar="DIR",
        help="A new or empty folder for the demo. Default: ./jdzhi-demo-<timestamp>.",
        file_okay=False,
    )] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sample data.")] = 7,
    as_json: common.JsonOption = False,
) -> None:
    """Run jdzhi end to end on SAMPLE data in a new folder, narrating each step.

    The demo builds its own home in the folder (your registry is never touched):
    the service center imports 220 fictitious enterprises, a workshop signs a
    batch and prints its labels, the testing center endorses it, an inspector
    scans simulated phone photos (genuine, tampered, revoked, suspected-clone),
    a trust bundle gives the same verdicts offline; then the center goes online
    (a `jdzhi server` on 127.0.0.1 for those steps only): a workshop signs at its
    kiln against the published bundle and pushes, a phone page and two inspectors
    report scans, and the center flags the clone. A copyright officer screens
    design submissions (copy, clear) with an HTML report. It ends with
    every verdict and every file written. The demo's keys share the passphrase
    in DIR/DEMO-PASSPHRASE.txt (demo only).

    Example: jdzhi demo --dir /tmp/jdzhi-demo
    then:    jdzhi --home /tmp/jdzhi-demo/home registry list
    """
    from jdzhi.demo.story import run_demo

    started: list[StepReport] = []

    def narrate(report: StepReport) -> None:
        if as_json:
            return
        if not started:  # after the first step: a refused folder prints only the error
            common.err.print("[bold]jdzhi demo[/] — everything below runs on SAMPLE data")
        started.append(report)
        common.err.print(f"\n[bold cyan]▸ {escape(report.title)}[/]", highlight=False)
        for line in report.lines:
            common.err.print(f"  {escape(line)}", highlight=False)

    result = run_demo(folder, seed=seed, on_step=narrate)
    if as_json:
        common.emit_json(demo_result_json(result))
        return
    _print_summary(result)
    common.out.print(
        f"\n[green]Done.[/] The demo folder is [bold]{escape(str(result.folder))}[/]\n"
        f"  explore it: jdzhi --home {escape(str(result.home.path))} registry list",
        highlight=False,
    )


def _print_summary(result: DemoResult) -> None:
    table = common.result_table("Every verdict of the story", ("step", "fold"),
                                ("what was checked", "fold"), ("how", "fold"),
                                ("verdict", "whole"), ("expected", "fold"))
    for row in result.verdicts:
        mark = "[green]✓[/]" if row.as_expected else f"[red]✗ {escape(row.expected)}[/]"
        style = "green" if row.verdict == "genuine" else "yellow"
        table.add_row(row.step, escape(row.subject), escape(row.method),
                      f"[{style}]{escape(row.verdict)}[/]", mark)
    common.out.print()
    common.out.print(table)
    common.out.print(f"\n[bold]Files written[/] (in {escape(str(result.folder))}):",
                     highlight=False)
    for name in result.files:
        common.out.print(f"  {escape(name)}", highlight=False)
