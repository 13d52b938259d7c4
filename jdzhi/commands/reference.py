"""The command reference in README.md, made from the CLI itself so that the two cannot drift.

`python -m jdzhi.commands.reference` prints the block; tests/test_readme.py checks that README.md
holds exactly what it prints.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer

START = "<!-- command-reference:start (made by `python -m jdzhi.commands.reference`) -->"
END = "<!-- command-reference:end -->"


def _walk(command: Any, ctx: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(command, typer.core.TyperGroup):
        for name in sorted(command.list_commands(ctx)):
            yield from _walk(command.get_command(ctx, name), ctx, f"{path} {name}")
    else:
        summary = (command.help or "").strip().split("\n\n")[0].replace("\n", " ")
        yield path, " ".join(summary.split())


def reference_block() -> str:
    from jdzhi.cli import app

    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    rows = ["| command | what it does |", "|---|---|"]
    rows += [f"| `{path}` | {summary} |" for path, summary in _walk(root, ctx, "jdzhi")]
    return "\n".join([START, *rows, END])


if __name__ == "__main__":
    print(reference_block())
