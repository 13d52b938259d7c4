"""``jdzhi push``: signed records to the service center online."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from jdzhi._format.records import pushed_json
from jdzhi.commands import _common as common

__all__ = ["push"]


def push(
    signed: Annotated[Path, typer.Argument(
        metavar="SIGNED.jsonl", dir_okay=False,
        help="Signed records as `jdzhi sign` writes them.")],
    server: common.ServerOption,
    as_json: common.JsonOption = False,
) -> None:
    """Send signed records to the service center online (`jdzhi server`): all lines or none.

    The center verifies every line as `jdzhi verify` does and stores them; lines it stored
    before count as already stored, so sending a file again is harmless. A file larger than the
    center takes in one request (32 MiB) goes in parts, each all or none (said on stderr); if
    one fails, the parts before it are stored, and the same command again sends the rest. Exit 1
    when a line is not genuine (its line number is in the error), 11 when the center cannot be
    reached.

    Example: jdzhi push signed.jsonl --server https://trace.example.cn
    """
    from jdzhi.online.uploads import PushPlan, push_records

    assert server is not None  # a required option
    with common.progress_bar(quiet=as_json) as bar:
        task = bar.add_task("sending", total=None)

        def planned(plan: PushPlan) -> None:
            bar.update(task, total=plan.lines)
            if plan.parts > 1:
                common.err.print(f"note: {escape(str(signed))} is larger than the center takes "
                                 f"in one request: sending it in {plan.parts} parts, each all "
                                 "or none", highlight=False)

        pushed = push_records(server, signed, planned=planned,
                              progress=lambda lines: bar.advance(task, lines))
    common.result(as_json, pushed_json(pushed),
                  f"[green]Sent[/] {escape(str(signed))} to {escape(pushed.server)}: "
                  f"{common.plural(pushed.stored, 'record')} stored, "
                  f"{pushed.already_stored} already stored"
                  + (f" ({pushed.requests} requests)" if pushed.requests > 1 else ""))
