"""The command reference in README.md, made from the CLI itself so that the two cannot drift.

`python -m jdzhi.commands.reference` prints the block; tests/test_readme.py checks that README.md
holds exactly what it prints.
"""

from __future__ import annotations

from collections.abc import Iterator

import typer

START = "<!-- command-reference:start (made by `python -m jdzhi.commands.reference`) -->"
END = "<!-- command-reference:end -->"


def _walk(command: typer.core.TyperCommand | typer.core.TyperGroup, path: str) -> Iterator[
    tuple[str, str]
]:
    sub_commands = getattr(command, "commands", None)
    if sub_commands:
        for name in sorted(sub_commands):
            yield from _walk(sub_commands[name], f"{path} {name}")
    else:
        summary = (command.help or "").strip().split("\n\n")[0].replace("\n", " ")
        yield path, " ".join(summary.split())


def reference_block() -> str:
    from jdzhi.cli import app

    root = typer.main.get_command(app)
    rows = ["| command | what it does |", "|---|---|"]
    rows += [f"| `{path}` | {summary} |" for path, summary in _walk(root, "jdzhi")]  # type: ignore[arg-type]
    return "\n".join([START, *rows, END])


if __name__ == "__main__":
    print(reference_block())
