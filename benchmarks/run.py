"""The one benchmark entry point: every figure of issue 4 in one table, each beside the raw library
figure measured in the same run.

    .venv/bin/python -m benchmarks.run            # full sizes (a few minutes on 2 cores)
    .venv/bin/python -m benchmarks.run --quick    # small sizes, for a smoke run (under a minute)
    .venv/bin/python -m benchmarks.run --json > benchmarks/results.json   # the rows with the
        # run's date, sizes, CPUs, Python and load; README.md's table is made from that file by
        # `python -m benchmarks.readme_table`

Start-up is measured here. The other figures come from the benchmark
modules of their components: a module ``benchmarks/bench_<name>.py`` that defines
``rows(quick: bool) -> list[Row]`` is called in-process and its rows join the table; one without
``rows`` is run as ``python -m benchmarks.bench_<name>`` and its own output is printed after the
table. A figure whose component has no benchmark in this checkout is listed as not measured.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[1]
PASSPHRASE = "benchmark passphrase"
NOW = "2026-03-10T09:00:00+08:00"

#: figures that other components' benchmark modules provide through ``rows(quick)``
COMPONENT_FIGURES = {
    "sign/s": "bench_sign_verify",
    "verify/s": "bench_sign_verify",
    "labels/s to PDF": "bench_labels",
    "scan + verify per photo": "bench_scan",
    "field scan, mild band": "bench_field_scan",
    "field scan, medium band": "bench_field_scan",
    "field scan, hard band": "bench_field_scan",
    "register works/s": "bench_similarity",
    "screen latency at 1 M works": "bench_similarity",
}
#: modules run here directly (or already covered by the figures measured here)
MEASURED_HERE = {"bench_startup", "run"}
#: benchmarks run only on their own, beside a PostgreSQL server (`scripts/with-postgres`; ten
#: million rows loaded): not part of this table's run
ON_DEMAND = {"bench_scan_log", "bench_db_copy", "bench_migrate_logs"}


@dataclass(frozen=True)
class Row:
    """One line of the table: what the user gets (``command``) beside the raw library figure."""

    figure: str
    command: str
    library: str
    note: str = ""


@dataclass(frozen=True)
class ModuleOutput:
    """What a benchmark module without ``rows`` printed when run as a program."""

    module: str
    exit_code: int
    stdout: str
    #: the end of stderr, kept only when the module failed
    stderr_tail: str

    def text(self) -> str:
        return (f"## benchmarks.{self.module} (exit {self.exit_code})\n{self.stdout}"
                + (f"\n{self.stderr_tail}" if self.exit_code else ""))


def timed(action: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def per_second(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


@contextmanager
def fresh_database(server: str, prefix: str, *, copy_of: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database on the server at ``server`` (a URL whose user may create
    databases), empty or a copy of the database named ``copy_of`` (which no one may be connected
    to), its URL; dropped afterwards, connections and all."""
    import uuid

    import psycopg
    import sqlalchemy

    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    template = f' TEMPLATE "{copy_of}"' if copy_of else ""
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"{template}')
    try:
        yield sqlalchemy.make_url(server).set(database=name).render_as_string(
            hide_password=False)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _environment(home: Path, database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JDZHI_")}
    env.update(JDZHI_HOME=str(home), JDZHI_PASSPHRASE=PASSPHRASE, JDZHI_NOW=NOW)
    if database_url:
        env["JDZHI_DATABASE_URL"] = database_url
    return env


def _jdzhi(home: Path, *args: str) -> float:
    """Wall time of one `jdzhi` process (start-up, key decryption and all)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "jdzhi", "--home", str(home), *args], check=True,
                   capture_output=True, env=_environment(home), cwd=REPO)
    return time.perf_counter() - start


@contextmanager
def benchmark_clock() -> Iterator[None]:
    """This process on the benchmarks' clock (``JDZHI_NOW``) while it makes and uses a home
    (which then honours the clock in the jdzhi processes :func:`_environment` starts), and off
    it after: the modules run later as programs (bench_page's browser has the real clock) must
    not inherit it."""
    saved = os.environ.get("JDZHI_NOW")
    os.environ["JDZHI_NOW"] = NOW
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("JDZHI_NOW", None)
        else:
            os.environ["JDZHI_NOW"] = saved


@contextmanager
def _licensed_home() -> Iterator[tuple[Path, Path]]:
    """A temporary home with one licensed enterprise and its signing key: (home, key file)."""
    with benchmark_clock(), _home_with_key() as made:
        yield made


@contextmanager
def _home_with_key() -> Iterator[tuple[Path, Path]]:
    with tempfile.TemporaryDirectory(prefix="jdzhi-bench-") as folder:
        yield licensed_home_in(Path(folder))


def licensed_home_in(folder: Path, database_url: str | None = None) -> tuple[Path, Path]:
    """A home in ``folder`` (its registry at ``database_url`` if given) with one licensed
    enterprise and its signing key: (home, key file). Made on the benchmarks' clock: call it
    under :func:`benchmark_clock`."""
    from jdzhi.home import Home
    from jdzhi.registry.db import open_registry
    from jdzhi.registry.entries import add_entry
    from jdzhi.registry.uscc import generate as generate_uscc
    from jdzhi.trace.keys.certified import issue_licensee_key
    from jdzhi.trace.keys.home_setup import initialize_home

    home = Home(folder / "home", database_url)
    initialize_home(home, PASSPHRASE.encode(), None)
    db = open_registry(home)
    key = folder / "bench.key"
    try:
        add_entry(db, {"uscc": generate_uscc(random.Random(1), division_code="360203"),
                       "name": "景德镇市样本陶瓷有限公司", "district_code": "360203",
                       "license_no": "JDZ-BENCH-0001", "categories": "qinghua",
                       "valid_from": "2026-01-01", "valid_to": "2030-12-31"})
        issue_licensee_key(home, db, "JDZ-BENCH-0001", out=key,
                           authority_passphrase=PASSPHRASE.encode(),
                           key_passphrase=PASSPHRASE.encode())
    finally:
        db.close()
    return home.path, key


def copy_home(source: Path, target: Path) -> Path:
    """A copy of a home's registry (SQLite's backup, consistent while it is in use) and of the
    authority's public key file (the registry's keys are checked against it): a signer's or a
    lab's machine that knows the same keys, where records and endorsements are made."""
    target.mkdir(parents=True)
    (target / "keys").mkdir()
    shutil.copy(source / "keys" / "authority.pub", target / "keys" / "authority.pub")
    with sqlite3.connect(source / "registry.db") as origin, \
            sqlite3.connect(target / "registry.db") as copy:
        origin.backup(copy)
    origin.close()
    copy.close()
    return target


def _records_csv(path: Path, start: int, count: int) -> Path:
    path.write_text("serial,batch,category,production_date\n" + "".join(
        f"{start + i},B1,qinghua,2026-03-01\n" for i in range(count)), encoding="utf-8")
    return path


def startup(runs: int) -> list[Row]:
    from benchmarks.bench_startup import measure

    figures = measure(runs)
    return [Row("CLI start-up", f"{figures['jdzhi_help_s'] * 1000:.0f} ms (`jdzhi --help`)",
                f"{figures['bare_typer_help_s'] * 1000:.0f} ms (bare two-command Typer app)",
                f"ratio {figures['ratio']:.2f}x (target <= 1.25x)")]


def component_rows(quick: bool) -> tuple[list[Row], list[ModuleOutput]]:
    """Rows from the components' ``rows(quick)``, and the raw output of the other modules."""
    rows: list[Row] = []
    extra_output: list[ModuleOutput] = []
    present = sorted(path.stem for path in Path(__file__).parent.glob("bench_*.py"))
    for name in present:
        if name in MEASURED_HERE or name in ON_DEMAND:
            continue
        module = importlib.import_module(f"benchmarks.{name}")
        provider = getattr(module, "rows", None)
        if provider is not None:
            rows.extend(provider(quick))
            continue
        done = subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], capture_output=True,
                              text=True, cwd=REPO, check=False)
        extra_output.append(ModuleOutput(name, done.returncode, done.stdout,
                                         done.stderr.strip()[-2000:] if done.returncode else ""))
    measured = {row.figure for row in rows}
    for figure, module_name in COMPONENT_FIGURES.items():
        if figure not in measured:
            why = ("its module defines no rows(quick)" if module_name in present
                   else f"benchmarks/{module_name}.py is not in this checkout")
            rows.append(Row(figure, "not measured", "not measured", why))
    return rows, extra_output


def render(rows: list[Row]) -> str:
    header = ("figure", "jdzhi (what a user runs)", "raw library, same run", "note")
    table = [header, *((row.figure, row.command, row.library, row.note) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(4)]
    lines = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths,
                                                                       strict=True)) + " |"
             for line in table]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def results_document(rows: list[Row], extra_output: list[ModuleOutput], *, quick: bool,
                     started: float, load_average: tuple[float, float, float]) -> dict[str, Any]:
    """The machine-readable results of one run: its rows and what describes the run. Whoever
    commits the file may add a ``note`` on what else the machine was doing."""
    return {
        "about": "jdzhi benchmark results of one run of `python -m benchmarks.run --json`; "
                 "README.md's table is made from them by `python -m benchmarks.readme_table`",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "command": "python -m benchmarks.run --json" + (" --quick" if quick else ""),
        "sizes": "quick" if quick else "full",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(value, 2) for value in load_average],
        "minutes": round((time.time() - started) / 60, 1),
        "rows": [asdict(row) for row in rows],
        "other_modules": [asdict(output) for output in extra_output],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON instead (rows, date, sizes, CPUs, Python)")
    args = parser.parse_args(argv)
    started, load_average = time.time(), os.getloadavg()
    rows = startup(5 if args.quick else 15)
    more, extra_output = component_rows(args.quick)
    rows += more
    if args.json:
        print(json.dumps(results_document(rows, extra_output, quick=args.quick, started=started,
                                          load_average=load_average),
                         ensure_ascii=False, indent=2))
        return
    print(f"jdzhi benchmarks ({'quick' if args.quick else 'full'}), Python "
          f"{platform.python_version()}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}\n")
    print(render(rows))
    for output in extra_output:
        print("\n" + output.text().rstrip())


if __name__ == "__main__":
    main()
