"""README.md's benchmark table is generated from the committed benchmarks/results.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.readme_table import END, README, RESULTS, START, main, table_block, with_table

RESULT_FIELDS = {"date", "command", "sizes", "python", "cpus", "load_average_at_start",
                 "minutes", "rows"}


def committed_results() -> dict[str, object]:
    results: dict[str, object] = json.loads(RESULTS.read_text(encoding="utf-8"))
    return results


def test_readme_table_is_what_the_generator_makes_of_the_committed_results() -> None:
    text = README.read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1, "README.md lost its table markers"
    documented = text[text.index(START) : text.index(END) + len(END)]
    assert documented == table_block(committed_results()), (
        "README.md's benchmark table differs from benchmarks/results.json: run "
        "`python -m benchmarks.readme_table`")


def test_results_file_says_which_run_it_comes_from() -> None:
    results = committed_results()
    assert RESULT_FIELDS <= results.keys()
    rows = results["rows"]
    assert isinstance(rows, list) and rows
    for row in rows:
        assert set(row) == {"figure", "command", "library", "note"}
        assert all(isinstance(cell, str) for cell in row.values())


def test_generator_rewrites_the_table_and_nothing_else(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nprose before\n\n{START}\nan old table\n{END}\n\nprose after\n",
                      encoding="utf-8")
    main([str(RESULTS), "--readme", str(readme)])
    assert readme.read_text(encoding="utf-8") == (
        f"# title\n\nprose before\n\n{table_block(committed_results())}\n\nprose after\n")


@pytest.mark.parametrize("text", ["no markers", f"{END}\n{START}\n", f"{START}\n{START}\n{END}"])
def test_generator_refuses_a_readme_without_one_pair_of_markers(text: str) -> None:
    with pytest.raises(ValueError, match="must hold one"):
        with_table(text, committed_results())
