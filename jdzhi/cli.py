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
from jdzhi.commands._common import (
    CliState,
    JsonOption,
    PassphraseFileOption,
    emit_json,
    err_console,
    home_of,
    read_passphrase,
)
from jdzhi.errors import ExitCode, JdzhiError

# isort: split
# command modules: one line each, alphabetical; they import only light modules at top level
from jdzhi.commands import demo as demo_commands
from jdzhi.commands import keys as keys_commands
from jdzhi.commands import lab as lab_commands
from jdzhi.commands import label as label_commands
from jdzhi.commands import page as page_commands
from jdzhi.commands import registry as registry_commands
from jdzhi.commands import scan as scan_commands
from jdzhi.commands import sign as sign_commands
from jdzhi.commands import trust as trust_commands
from jdzhi.commands import works as works_commands

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
    base_url: Annotated[str | None, typer.Option(
        "--base-url",
        help="Label base URL, uppercase, at most 30 characters "
             "(default HTTPS://TRACE.EXAMPLE.CN/V/); stored once, at the first init.",
    )] = None,
    passphrase_file: PassphraseFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create the home: its registry database and the authority key of the service center.

    Safe to run again: it says what it found and changes nothing. The authority key (Ed25519,
    encrypted with a passphrase you choose) is written 0600 to keys/authority.key in the home;
    keep a backup.

    Example: JDZHI_PASSPHRASE=... jdzhi init --base-url HTTPS://TRACE.EXAMPLE.CN/V/
    """
    from jdzhi.trace.format import authority_kid, base64url
    from jdzhi.trace.keys import initialize_home

    home = home_of(ctx)
    passphrase = None
    if not home.authority_key_path.exists():
        passphrase = read_passphrase(passphrase_file, confirm=True, what="the new authority key")
    result = initialize_home(home, passphrase, base_url)
    authority = result.authority
    if as_json:
        emit_json({"path": result.registry_path, "created": result.registry_created,
                   "applied_migrations": list(result.applied_migrations),
                   "authority_key_created": authority.created,
                   "authority_key_path": authority.key_path,
                   "authority_kid": authority_kid(authority.public_key).hex(),
                   "authority_public_key": base64url(authority.public_key),
                   "base_url": result.base_url})
        return
    if result.registry_created:
        err_console.print(f"[green]Created[/] a new registry at {escape(result.registry_path)}")
    else:
        err_console.print(
            f"Registry at {escape(result.registry_path)} already exists; nothing was overwritten"
            + (f" (schema updated: {', '.join(result.applied_migrations)})"
               if result.applied_migrations else "")
        )
    if authority.created:
        err_console.print(f"[green]Created[/] the authority key {authority.kid} at "
                          f"{escape(authority.key_path)} (encrypted; keep a backup)")
    else:
        err_console.print(f"The authority key {authority.kid} exists at "
                          f"{escape(authority.key_path)}; it was not changed")
    err_console.print(f"Label base URL: {escape(result.base_url)}")


# command registration: one block per command module, e.g.
#   app.add_typer(registry_commands.app, name="registry")
#   app.command(name="sign")(trace_commands.sign)
app.command(name="demo")(demo_commands.demo)
app.add_typer(registry_commands.app, name="registry")
app.add_typer(keys_commands.app, name="keys")
app.add_typer(lab_commands.app, name="lab")
app.command(name="sign")(sign_commands.sign)
app.add_typer(trust_commands.app, name="trust")
app.command(name="verify")(sign_commands.verify)
app.add_typer(page_commands.app, name="page")
app.command(name="serve")(page_commands.serve)
app.command(name="label")(label_commands.label)
app.command(name="scan")(scan_commands.scan)
app.add_typer(scan_commands.scans_app, name="scans")
app.add_typer(works_commands.app, name="works")
# (end of command registration)


def main() -> None:
    app(prog_name="jdzhi")
