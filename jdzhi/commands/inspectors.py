"""``jdzhi inspectors``: who may send inspector scans to `jdzhi server`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from jdzhi._format.inspectors import inspector_json
from jdzhi.commands import _common as common

app = typer.Typer(help="Inspectors of the online service center: add them (each gets a token "
                       "once), list them, revoke them.", no_args_is_help=True)

#: the inspector that ``add`` and ``revoke`` take, by the name it was added with
InspectorArgument = Annotated[str, typer.Argument(
    help="The inspector's name or id, e.g. insp-07.")]


@app.command("add")
def add(ctx: typer.Context, name: InspectorArgument, as_json: common.JsonOption = False) -> None:
    """Add an inspector and print its token, once (only its hash is stored).

    The inspector sends it to `jdzhi server` as `Authorization: Bearer TOKEN` with each scan
    (POST /api/v1/scans). The token is printed on stdout; keep it secret.

    Example: jdzhi inspectors add insp-07 --json
    """
    from jdzhi.server.inspectors import add_inspector

    with common.registry_of(ctx) as db:
        added = add_inspector(db, name)
    if as_json:
        common.emit_json({**inspector_json(added.inspector), "token": added.token})
        return
    common.err.print(f"[green]Added[/] inspector {escape(added.inspector.name)}; its token "
                     "(shown once, keep it secret):")
    common.out.print(added.token, highlight=False)


@app.command("list")
def list_(ctx: typer.Context, as_json: common.JsonOption = False) -> None:
    """List the inspectors (never their tokens).

    Example: jdzhi inspectors list --json
    """
    from jdzhi.server.inspectors import list_inspectors

    with common.registry_of(ctx) as db:
        found = list_inspectors(db)
    if common.listing(as_json, found, inspector_json,
                      none="No inspectors yet: `jdzhi inspectors add NAME`."):
        return
    table = common.result_table(None, ("inspector", "whole"), ("added", "whole"),
                                ("status", "fold"))
    for inspector in found:
        state = f"revoked {inspector.revoked_at}" if inspector.revoked_at else "active"
        table.add_row(escape(inspector.name), inspector.created_at, state)
    common.out.print(table)


@app.command("revoke")
def revoke(ctx: typer.Context, name: InspectorArgument, as_json: common.JsonOption = False) -> None:
    """Revoke an inspector: its token stops working at once; its scans stay in the log.

    Example: jdzhi inspectors revoke insp-07
    """
    from jdzhi.server.inspectors import revoke_inspector

    with common.registry_of(ctx) as db:
        revoked = revoke_inspector(db, name)
    if as_json:
        common.emit_json(inspector_json(revoked))
    else:
        common.out.print(f"[yellow]Revoked[/] inspector {escape(revoked.name)}")
