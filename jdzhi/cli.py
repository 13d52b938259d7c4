"""The ``jdzhi`` command line: parse, call one library function, render.

Errors are caught in exactly one place, :meth:`JdzhiGroup.invoke`, which prints one line on stderr
and exits with the error's :class:`~jdzhi.errors.ExitCode`. Heavy libraries are imported inside
the commands that need them, so that ``jdzhi --help`` starts fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer._click import Context as ClickContext  # Typer >= 0.29 vendors Click
from typer.core import TyperGroup

from jdzhi import __version__
from jdzhi.commands._common import CliState, JsonOption, emit_json, err_console, home_of
from jdzhi.errors import ExitCode, JdzhiError

# command modules: one line each, alphabetical; they import only light modules at top level
from jdzhi.commands import registry as registry_commands
# (end of command modules)


class JdzhiGroup(TyperGroup):
    """The root command group: the single place where errors become exit codes."""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except JdzhiError as error:
            _fail(error.message, error.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", ExitCode.INTERRUPTED)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as error:
            if os.environ.get("JDZHI_DEBUG"):
                raise
            _fail(
                f"internal error ({type(error).__name__}: {error}); "
                "set JDZHI_DEBUG=1 to see the traceback and please report it",
                ExitCode.INTERNAL,
            )


def _fail(message: str, code: ExitCode) -> None:
    one_line = " ".join(message.split())
    err_console.print(f"[bold red]error:[/] {escape(one_line)}", highlight=False)
    raise typer.Exit(int(code))


app = typer.Typer(
    name="jdzhi",
    cls=JdzhiGroup,
    help=(
        "Protect the Jingdezhen Zhi (景德镇制) certification mark: keep the registry of licensed "
        "enterprises, sign product records, print and scan QR traceability labels, and screen "
        "designs for copies.\n\nStart with `jdzhi init`, or see everything at work with "
        "`jdzhi demo`."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"jdzhi {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(
        "--home",
        help="jdzhi home (registry and keys). Default: $JDZHI_HOME, else the user data directory.",
        file_okay=False,
    )] = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
    )] = False,
) -> None:
    ctx.obj = CliState(home_option=home)


@app.command()
def init(
    ctx: typer.Context,
    as_json: JsonOption = False,
) -> None:
    """Create the home and its registry database. Safe to run again: it says what it found."""
    from jdzhi.registry.db import initialize

    result = initialize(home_of(ctx))
    if as_json:
        emit_json({"path": result.path, "created": result.created,
                   "applied_migrations": list(result.applied_migrations)})
    elif result.created:
        err_console.print(f"[green]Created[/] a new registry at {escape(result.path)}")
    else:
        err_console.print(
            f"Registry at {escape(result.path)} already exists; nothing was overwritten"
            + (f" (schema updated: {', '.join(result.applied_migrations)})"
               if result.applied_migrations else "")
        )


# command registration: one block per command module, e.g.
#   app.add_typer(registry_commands.app, name="registry")
#   app.command(name="sign")(trace_commands.sign)
app.add_typer(registry_commands.app, name="registry")
# (end of command registration)


def main() -> None:
    app(prog_name="jdzhi")
