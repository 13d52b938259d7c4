"""``jdzhi db``: the registry database itself: bring its schema up to date."""

from __future__ import annotations

import typer

from jdzhi.commands import _common as common

app = typer.Typer(help="The registry database: bring its schema to this jdzhi's newest revision.",
                  no_args_is_help=True)


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
