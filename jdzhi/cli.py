"""The ``jdzhi`` command line: parse, call one library function, render.

Errors are caught in exactly one place, :meth:`JdzhiGroup.invoke`, which prints one line on stderr
and exits with the error's :class:`~jdzhi.errors.ExitCode`. Heavy libraries are imported inside
the commands that need them, so that ``jdzhi --help`` starts fast.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape
from typer.core import TyperArgument, TyperCommand, TyperGroup

from jdzhi import __version__
from jdzhi.commands import _common as common
from jdzhi.errors import ExitCode, JdzhiError

__all__ = ["LAZY_COMMANDS", "JdzhiGroup", "LazyCommand", "app", "load_command", "main"]


@dataclass(frozen=True)
class LazyCommand:
    """A command (a function) or command group (a Typer app) imported only when it is used.

    ``summary`` is what ``jdzhi --help`` lists without importing the module; tests/test_startup.py
    checks that it is the loaded command's own first help line.
    """

    module: str
    attribute: str
    summary: str


#: every command but `init`, in the order `jdzhi --help` lists them (a workflow's order)
LAZY_COMMANDS: dict[str, LazyCommand] = {
    "registry": LazyCommand(
        "jdzhi.commands.registry", "app",
        "The registry of enterprises licensed to use the mark: add, import and export them, "
        "list and show them, suspend, revoke, reinstate or renew their licenses, and audit "
        "every change."),
    "keys": LazyCommand(
        "jdzhi.commands.keys", "app",
        "Licensee signing keys: issue, list, revoke and rotate them. Every key is certified by the "
        "authority key made at `jdzhi init`."),
    "sign": LazyCommand(
        "jdzhi.commands.sign", "sign",
        "Sign every record of a CSV with a licensee key, store them, and write SIGNED.jsonl."),
    "push": LazyCommand(
        "jdzhi.commands.push", "push",
        "Send signed records to the service center online (`jdzhi server`): all lines or none."),
    "label": LazyCommand(
        "jdzhi.commands.label", "label",
        "Print QR traceability labels: PDF sheets, or one PNG/SVG per label."),
    "lab": LazyCommand(
        "jdzhi.commands.lab", "app",
        "The ceramic testing center: register it with its certified key, and countersign batches "
        "with test results."),
    "verify": LazyCommand(
        "jdzhi.commands.verify", "verify",
        "Verify labels or signed records; exit 0 only when every one is genuine."),
    "scan": LazyCommand(
        "jdzhi.commands.scan", "scan",
        "Scan label photos: find every QR code, verify it, and check for cloned serials."),
    "scans": LazyCommand(
        "jdzhi.commands.scan", "scans_app",
        "The scan log: what inspectors scanned, and suspected clones."),
    "recall": LazyCommand(
        "jdzhi.commands.recall", "app",
        "Recall items (serials or a whole batch) so that every verifier calls them recalled; "
        "list the recalls."),
    "trust": LazyCommand(
        "jdzhi.commands.trust", "app",
        "The offline trust bundle: certified keys, enterprises, license statuses and lab "
        "endorsements, signed by the authority."),
    "page": LazyCommand(
        "jdzhi.commands.page", "app",
        "The phone verification page: a label's URL opens it, and it checks the label's signature "
        "in the browser."),
    "serve": LazyCommand(
        "jdzhi.commands.page", "serve",
        "Serve the verification page on 127.0.0.1 for local use and testing, until Ctrl-C."),
    "server": LazyCommand(
        "jdzhi.commands.server", "server",
        "Serve the registry online (the verification page, trust bundle, uploads, scans) until "
        "Ctrl-C."),
    "inspectors": LazyCommand(
        "jdzhi.commands.inspectors", "app",
        "Inspectors of the online service center: add them (each gets a token once), list them, "
        "revoke them."),
    "works": LazyCommand(
        "jdzhi.commands.works", "app",
        "Protected works (design images) and design-copy screening: register works one by one or "
        "from a CSV, list, show and remove them, and screen submissions for copies (mirrored, "
        "rotated, cropped, recoloured, bordered, re-photographed, pasted...)."),
    "db": LazyCommand(
        "jdzhi.commands.db", "app",
        "The registry database: bring its schema to this jdzhi's newest revision, copy a "
        "SQLite registry into PostgreSQL, detach a past month of the scan logs."),
    "demo": LazyCommand(
        "jdzhi.commands.demo", "demo",
        "Run jdzhi end to end on SAMPLE data in a new folder, narrating each step."),
}


@cache
def load_command(name: str) -> TyperCommand | TyperGroup:
    """Import a lazy command's module and build its Click command."""
    lazy = LAZY_COMMANDS[name]
    target = getattr(import_module(lazy.module), lazy.attribute)
    command: TyperCommand | TyperGroup
    if isinstance(target, typer.Typer):
        # a group even with one sub-command: `jdzhi trust export` keeps its two words
        command = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False)  # completion options belong to `jdzhi` only
        single.command(name=name)(target)
        built = typer.main.get_command(single)
        assert isinstance(built, TyperCommand)
        command = built
    command.name = name
    polish_help(command)
    return command


class _Argument(TyperArgument):
    """An argument shown by its metavar alone: ``IMAGE...`` rather than ``{IMAGE...}...`` in the
    usage line and ``<list[Path]>`` beside it."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = self.metavar or (self.name or "").upper()
        if self.nargs != 1 and not name.endswith("..."):
            name += "..."
        return [name if self.required else f"[{name}]"]


def _metavar(param: Any) -> str:
    """What an option's value looks like in help: TEXT, INTEGER, NUMBER, FILE, DIR or PATH; nothing
    for a flag."""
    if getattr(param, "is_flag", False):
        return ""
    described = param.type_descriptor
    if described.is_path:
        return str(described.path_type).upper()
    return {int: "INTEGER", float: "NUMBER", bool: ""}.get(described.annotation, "TEXT")


def _reflow(text: str) -> str:
    """Docstring paragraphs as one line each, so that help wraps them to the terminal; indented
    blocks (examples) keep their lines."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(paragraph if paragraph.startswith((" ", "\b"))
                        else " ".join(paragraph.split()) for paragraph in paragraphs)


def polish_help(command: Any, ctx: Any = None) -> None:
    """Help that reads well, for a command and all its sub-commands: reflowed paragraphs, proper
    metavars (Typer's own are Python types such as ``<bool>``), arguments by their metavar; with
    the root's ``ctx``, the ``-h/--help`` option too (Click makes it from the context's names).

    Typer builds parameters itself and takes no parameter class, so arguments get theirs here.
    """
    if command.help:
        command.help = _reflow(command.help)
    help_option = command.get_help_option(ctx) if ctx is not None else None
    for param in [*command.params, *([help_option] if help_option else [])]:
        if isinstance(param, TyperArgument):
            param.__class__ = _Argument
        elif param.metavar is None:
            param.metavar = _metavar(param)
    for sub in getattr(command, "commands", {}).values():
        polish_help(sub, ctx)


@contextmanager
def _cli_edge() -> Iterator[None]:
    """The one place where errors become a line on stderr and an exit code."""
    try:
        yield
    except JdzhiError as error:
        _fail(error.message, error.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", ExitCode.INTERRUPTED)
    except BrokenPipeError:
        _reader_left()
    except SystemExit as done:
        # rich meets a closed stdout by pointing it at devnull and exiting 1: the reader left
        if done.code == 1 and _stdout_is_devnull():
            raise typer.Exit(int(ExitCode.OK)) from None
        raise
    except (typer.Exit, typer.Abort):
        raise
    except typer.TyperException as error:  # Click's usage errors and bad parameter values
        _usage_error(error)
    except Exception as error:
        if os.environ.get("JDZHI_DEBUG"):
            raise
        _fail(
            f"internal error ({type(error).__name__}: {error}); "
            "set JDZHI_DEBUG=1 to see the traceback and please report it",
            ExitCode.INTERNAL,
        )


class JdzhiGroup(TyperGroup):
    """The root command group: the single place where errors become exit codes.

    It also loads commands lazily: ``jdzhi --help`` lists them from their summaries, and only the
    command that runs is imported and built.
    """

    _listing_only = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *LAZY_COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        lazy = LAZY_COMMANDS.get(cmd_name)
        if self._listing_only and lazy is not None:
            return TyperCommand(name=cmd_name, help=lazy.summary)
        command = load_command(cmd_name) if lazy else super().get_command(ctx, cmd_name)
        if command is not None:
            polish_help(command, ctx)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        polish_help(self, ctx)
        self._listing_only = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing_only = False

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None,
                     **extra: Any) -> Any:
        with _cli_edge():  # `jdzhi --help | head`, `jdzhi --bogus`
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        with _cli_edge():
            return super().invoke(ctx)


def _fail(message: str, code: int) -> NoReturn:
    one_line = " ".join(message.split())
    common.err.print(f"[bold red]error:[/] {escape(one_line)}", highlight=False)
    raise typer.Exit(int(code))


def _usage_error(error: typer.TyperException) -> NoReturn:
    ctx = getattr(error, "ctx", None)
    if type(error).__name__ == "NoArgsIsHelpError":  # Typer printed the help already
        raise typer.Exit(int(ExitCode.USAGE))
    hint = f"; try '{ctx.command_path} --help'" if ctx is not None else ""
    _fail(error.format_message().rstrip(".") + hint, getattr(error, "exit_code", ExitCode.USAGE))


def _stdout_is_devnull() -> bool:
    try:
        stdout, devnull = os.fstat(sys.stdout.fileno()), os.stat(os.devnull)
    except (OSError, ValueError):
        return False
    return (stdout.st_dev, stdout.st_ino) == (devnull.st_dev, devnull.st_ino)


def _reader_left() -> NoReturn:
    """The reader of stdout went away (`jdzhi ... | head`): as the Python docs advise, point
    stdout at devnull so that the flush at exit cannot fail again, and end quietly with 0."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # a stdout without a file descriptor (tests) has no flush
        pass
    raise typer.Exit(int(ExitCode.OK))


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
    database_url: Annotated[str | None, typer.Option(
        "--db", metavar="URL",
        help="Keep the registry in this PostgreSQL database (postgresql://USER:PASSWORD@HOST:PORT/"
             "DATABASE) instead of the home's SQLite file; key files stay in the home. Default: "
             "$JDZHI_DATABASE_URL.",
    )] = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
    )] = False,
) -> None:
    ctx.obj = common.CliState(home_option=home, database_url=database_url)


@app.command()
def init(
    ctx: typer.Context,
    base_url: Annotated[str | None, typer.Option(
        "--base-url",
        help="Label base URL, uppercase, at most 30 characters "
             "(default HTTPS://TRACE.EXAMPLE.CN/V/); stored once, at the first init.",
    )] = None,
    passphrase_file: common.PassphraseFileOption = None,
    as_json: common.JsonOption = False,
) -> None:
    """Create the home: its registry database and the authority key of the service center.

    Safe to run again: it says what it found and changes nothing. The authority key (Ed25519,
    encrypted with a passphrase you choose) is written 0600 to keys/authority.key in the home;
    keep a backup.

    Example: JDZHI_PASSPHRASE=... jdzhi init --base-url HTTPS://TRACE.EXAMPLE.CN/V/
    """
    from jdzhi.trace.formats.common import authority_kid
    from jdzhi.trace.formats.records import base64url
    from jdzhi.trace.keys.home_setup import initialize_home

    home = common.home_of(ctx)
    passphrase = None
    if not home.authority_key_path.exists():
        passphrase = common.read_passphrase(passphrase_file, confirm=True,
                                            what="the new authority key")
    result = initialize_home(home, passphrase, base_url)
    registry, authority = result.registry, result.authority
    if as_json:
        common.emit_json({"path": registry.path, "created": registry.created,
                          "applied_migrations": list(registry.applied_migrations),
                          "authority_key_created": authority.created,
                          "authority_key_path": authority.key_path,
                          "authority_kid": authority_kid(authority.public_key).hex(),
                          "authority_public_key": base64url(authority.public_key),
                          "base_url": result.base_url})
        return
    if registry.created:
        common.out.print(f"[green]Created[/] a new registry at {escape(registry.path)}")
    else:
        common.out.print(
            f"Registry at {escape(registry.path)} already exists; nothing was overwritten"
            + (f" (schema updated: {', '.join(registry.applied_migrations)})"
               if registry.applied_migrations else "")
        )
    where = escape(authority.key_path)
    common.out.print(f"[green]Created[/] the authority key {authority.kid} at {where} (encrypted; "
                     "keep a backup)" if authority.created else
                     f"The authority key {authority.kid} exists at {where}; it was not changed")
    common.out.print(f"Label base URL: {escape(result.base_url)}")


def main() -> None:
    app(prog_name="jdzhi")
