"""README.md documents what the CLI really has: the command table is made from the CLI itself."""

from __future__ import annotations

from pathlib import Path

from jdzhi.commands.reference import END, START, reference_block

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_command_reference_matches_the_cli() -> None:
    text = README.read_text(encoding="utf-8")
    assert START in text and END in text, "README.md lost its command reference markers"
    documented = text[text.index(START) : text.index(END) + len(END)]
    assert documented == reference_block(), (
        "README.md's command reference is stale: run `python -m jdzhi.commands.reference` and "
        "paste its output between the markers"
    )
