"""``jdzhi db``: the registry database itself: bring its schema up to date, copy it into
PostgreSQL, detach a past month of the scan logs."""

from __future__ import annotations

from typing import Annotated

import typer

from jdzhi.commands import _common as common

app = typer.Typer(help="The registry database: bring its schema to this jdzhi's newest revision, "
                       "copy a SQLite registry into PostgreSQL, detach a past month of the scan "
                       "logs.", no_args_is_help=True)


@app.command("migrate")
def migrate(ctx: typer.Context, as_json: common.JsonOption = False) -> None:
    """Bring the registry database's schema to this jdzhi's newest revision (Alembic), in one
    transaction; run again, it changes nothing.

    A home made before Alembic first gets the component migrations it lacks and is stamped at the
    baseline revision 0001. Opening a SQLite registry migrates it anyway; a PostgreSQL database,
    which several servers share, is migrated only by this command (run it once per upgrade of
    jdzhi). A database at a revision this jdzhi does not know (made by a newer jdzhi) is refused
    (exit 6).

    Example: jdzhi db migrate --json
    """
    from jdzhi.registry.db import migrate_home

    result = migrate_home(common.home_of(ctx))
    if as_json:
        common.emit_json({"database": result.database, "location": result.location,
                          "previous_revision": result.previous_revision,
                          "component_migrations": list(result.components),
                          "stamped": result.stamped, "applied": list(result.applied),
                          "revision": result.revision})
        return
    if result.components:
        common.err.print("Applied the component migrations this home lacked: "
                         + ", ".join(result.components))
    if result.stamped:
        common.err.print(f"Stamped the existing schema at revision {result.stamped}.")
    if result.applied:
        common.err.print(f"Applied {common.plural(len(result.applied), 'revision')}: "
                         + ", ".join(result.applied))
    if not (result.components or result.stamped or result.applied):
        common.err.print("Nothing to apply.")
    common.out.print(f"The {result.database} registry at {result.location} is at revision "
                     f"{result.revision}.", highlight=False)


@app.command("copy")
def copy(
    ctx: typer.Context,
    to: Annotated[str, typer.Option(
        "--to", metavar="URL",
        help="The empty PostgreSQL database to fill: postgresql://USER:PASSWORD@HOST:PORT/DATABASE "
             "(better in a variable than typed where the shell history keeps it).")],
    as_json: common.JsonOption = False,
) -> None:
    """Copy the home's SQLite registry into an empty PostgreSQL database, all or nothing.

    Every table (enterprises, licenses and their history, keys, signed records, endorsements,
    recalls, works, scan logs, the audit log and its checkpoints, ...) is copied with its ids, in
    one transaction, after migrating the database to this jdzhi's newest revision; new rows then
    continue after the copied ids. Before it commits, the copy must pass `jdzhi registry audit`
    and every transparency-log checkpoint must still verify against it; otherwise nothing is
    written (exit 8). A database that is not empty is refused (exit 5); a server that cannot be
    reached is exit 11. Key files stay in the home: afterwards run the center with
    `--db URL` (or JDZHI_DATABASE_URL) and the same home.

    Example: jdzhi db copy --to postgresql://jdzhi:PASSWORD@db.example:5432/jdzhi
    """
    from jdzhi._format.database import copy_json
    from jdzhi.registry.db_copy import CHUNK_ROWS, copy_registry

    with common.progress_bar(quiet=as_json) as bar:
        tasks: dict[str, object] = {}

        def advance(table: str, done: int, total: int) -> None:
            if total <= CHUNK_ROWS:  # a bar only for the tables that take a while
                return
            if table not in tasks:
                tasks[table] = bar.add_task(f"Copying {table}", total=total)
            bar.update(tasks[table], completed=done)  # type: ignore[arg-type]

        result = copy_registry(common.home_of(ctx), to, progress=advance)
    if as_json:
        common.emit_json(copy_json(result))
        return
    table = common.result_table(f"Copied {result.source} to {result.target}",
                                ("table", "whole"), ("rows", "number"))
    for name, rows in result.tables.items():
        table.add_row(name, f"{rows:,}")
    table.add_row("[bold]total[/]", f"[bold]{result.rows:,}[/]")
    common.out.print(table)
    common.out.print(
        f"[green]Registry audit passed on the copy[/]: "
        f"{common.plural(result.audit.entries, 'entry', 'entries')}, every row accounted for; "
        f"{common.plural(result.checkpoints, 'checkpoint')} of the transparency log verified. "
        f"Schema revision {result.revision}.", highlight=False)


@app.command("detach-scans")
def detach_scans(ctx: typer.Context,
                 month: str = typer.Argument(..., help="The month to detach, YYYY-MM."),
                 as_json: common.JsonOption = False) -> None:
    """Take a past month out of the scan logs (PostgreSQL), whole; its tables stay in the
    database to archive and drop.

    The month's partitions of scans, page_scans and page_scan_clients (the page's clients a day)
    are detached in one transaction and stay as tables of their own (scans_2026_01,
    page_scans_2026_01, page_scan_clients_2026_01): archive them (pg_dump -t), then drop them.
    Their scans no longer count in checks or clone rules, so a month that ends within the 30-day
    clone window is refused (exit 3); a month with no partition is not found (exit 4); a SQLite
    registry keeps one table each and has nothing to detach (exit 6).

    Example: jdzhi db detach-scans 2026-01
    """
    from jdzhi.trace.scanning.months import detach_month

    detached = detach_month(common.home_of(ctx), month)
    if as_json:
        common.emit_json({"month": detached.month, "tables": [
            {"table": table, "detached": name, "rows": rows}
            for table, (name, rows) in detached.tables.items()]})
        return
    for table, (name, rows) in detached.tables.items():
        common.out.print(f"Detached {name} from {table}: {common.plural(rows, 'row')}.",
                         highlight=False)
    common.err.print("The tables stay in the database: archive them (pg_dump -t NAME), then "
                     "drop them.")
