"""``jdzhi inspectors``: who may send inspector scans to `jdzhi server`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from jdzhi.commands._common import JsonOption, emit_json, err_console, registry_of

app = typer.Typer(help="Inspectors of the online service center: add them (each gets a token "
                       "once), list them, revoke them.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The inspector's name or id, e.g. insp-07.")],
    as_json: JsonOption = False,
) -> None:
    """Add an inspector and print its token, once (only its hash is stored).

    The inspector sends it as `Authorization: Bearer TOKEN` (`jdzhi scan --server` reads it from
    $JDZHI_INSPECTOR_TOKEN). The token is printed on stdout; keep it secret.

    Example: jdzhi inspectors add insp-07 --json
    """
    from jdzhi.server.inspectors import add_inspector

    with registry_of(ctx) as db:
        added = add_inspector(db, name)
    if as_json:
        emit_json({**added.inspector.to_json(), "token": added.token})
        return
    err_console.print(f"[green]Added[/] inspector {escape(added.inspector.name)}; its token "
                      "(shown once, keep it secret):")
    typer.echo(added.token)


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the inspectors (never their tokens).

    Example: jdzhi inspectors list --json
    """
    from jdzhi.server.inspectors import list_inspectors

    with registry_of(ctx) as db:
        found = list_inspectors(db)
    if as_json:
        emit_json([inspector.to_json() for inspector in found])
        return
    if not found:
        err_console.print("No inspectors yet: `jdzhi inspectors add NAME`.")
    for inspector in found:
        state = f"revoked {inspector.revoked_at}" if inspector.revoked_at else "active"
        err_console.print(f"{escape(inspector.name)}  added {inspector.created_at}  {state}")


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The inspector to revoke.")],
    as_json: JsonOption = False,
) -> None:
    """Revoke an inspector: its token stops working at once; its scans stay in the log.

    Example: jdzhi inspectors revoke insp-07
    """
    from jdzhi.server.inspectors import revoke_inspector

    with registry_of(ctx) as db:
        revoked = revoke_inspector(db, name)
    if as_json:
        emit_json(revoked.to_json())
    else:
        err_console.print(f"[yellow]Revoked[/] inspector {escape(revoked.name)}")
