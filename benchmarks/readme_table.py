"""README.md's benchmark table, made from a saved results file so that the two cannot drift.

    .venv/bin/python -m benchmarks.run --json > benchmarks/results.json   # measure (minutes)
    .venv/bin/python -m benchmarks.readme_table                           # rewrite README's table

The table sits in README.md between `<!-- benchmarks:start -->` and `<!-- benchmarks:end -->`;
nothing else in README.md is touched. tests/test_benchmark_table.py checks that the table is
what this module makes of the committed benchmarks/results.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.run import REPO, Row, render

START = "<!-- benchmarks:start -->"
END = "<!-- benchmarks:end -->"
RESULTS = Path(__file__).with_name("results.json")
README = REPO / "README.md"


def _load_average(values: list[float]) -> str:
    return " / ".join(f"{value:.2f}" for value in values)


def table_block(results: Mapping[str, Any]) -> str:
    """The markers, a line saying which run the figures come from, and the table of its rows."""
    rows = [Row(**row) for row in results["rows"]]
    run = (f"One run of `{results['command']}` ({results['sizes']} sizes) on {results['date']}, "
           f"{results['minutes']} minutes, Python {results['python']}, {results['cpus']} CPUs, "
           "load average (1 / 5 / 15 min) at the start "
           f"{_load_average(results['load_average_at_start'])}"
           + (f". {results['note']}" if "note" in results else "") + ":")
    return "\n".join([
        START,
        "<!-- made by `python -m benchmarks.readme_table` from benchmarks/results.json: "
        "edit neither by hand -->",
        "",
        run,
        "",
        render(rows),
        END,
    ])


def with_table(readme: str, results: Mapping[str, Any]) -> str:
    """``readme`` with the text from START to END (both included) replaced by the new table."""
    one_pair = readme.count(START) == readme.count(END) == 1
    if not one_pair or readme.index(START) > readme.index(END):
        raise ValueError(f"the file must hold one {START} followed by one {END}")
    head, rest = readme.split(START)
    _old, tail = rest.split(END)
    return head + table_block(results) + tail


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.readme_table", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="?", type=Path, default=RESULTS,
                        help="results of `python -m benchmarks.run --json` (default: %(default)s)")
    parser.add_argument("--readme", type=Path, default=README,
                        help="the file whose table is rewritten (default: %(default)s)")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text(encoding="utf-8"))
    readme: Path = args.readme
    try:
        text = with_table(readme.read_text(encoding="utf-8"), results)
    except ValueError as error:
        parser.exit(2, f"{readme}: {error}\n")
    readme.write_text(text, encoding="utf-8")
    print(f"rewrote the benchmark table of {readme} from {args.results}", file=sys.stderr)


if __name__ == "__main__":
    main()
