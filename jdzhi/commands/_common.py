"""What every command shares: the home, the consoles, JSON output, passphrases and options.

Results go to stdout: what people read (tables, verdicts, what a command did) through ``out``,
and JSON through ``emit_json`` with ``--json``. Everything else (progress, notes, warnings,
errors) goes to stderr through ``err``. So `jdzhi registry list | grep 金祥` finds the row.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from jdzhi.errors import InvalidInput, KeyUnusable
from jdzhi.home import Home, resolve_home

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table

    from jdzhi.registry.db import Database

__all__ = [
    "ID_MAX",
    "KEY_PASSPHRASE_ENV",
    "AuthorityOption",
    "CliState",
    "ColumnKind",
    "JsonOption",
    "KeyPassphraseFileOption",
    "MaxAgeOption",
    "PassphraseFileOption",
    "ServerOption",
    "VerifyTrustOption",
    "WitnessOption",
    "emit_json",
    "err",
    "home_of",
    "listing",
    "new_key_passphrases",
    "note_encoding",
    "out",
    "plural",
    "progress_bar",
    "read_key_passphrase",
    "read_passphrase",
    "registry_of",
    "result",
    "result_table",
    "warn",
]

T = TypeVar("T")

PASSPHRASE_ENV = "JDZHI_PASSPHRASE"
#: the largest row id SQLite stores: every id people type is checked against it first
ID_MAX = 2**63 - 1
#: the passphrase for a key issued to a workshop or lab, in scripts
KEY_PASSPHRASE_ENV = "JDZHI_KEY_PASSPHRASE"

#: results for people, on stdout; soft_wrap keeps a result line whole for grep (tables still fit)
out = Console(soft_wrap=True)
#: progress, notes, warnings and errors, on stderr; one error stays one line at any width
err = Console(stderr=True, soft_wrap=True)


@dataclass(frozen=True)
class CliState:
    home_option: Path | None
    database_url: str | None = None

    @property
    def home(self) -> Home:
        return resolve_home(self.home_option, self.database_url)


def home_of(ctx: typer.Context) -> Home:
    state = ctx.find_root().obj
    assert isinstance(state, CliState)
    return state.home


@contextmanager
def registry_of(ctx: typer.Context) -> Iterator[Database]:
    """The home's registry, open for the length of a command."""
    from jdzhi.registry.db import open_registry

    db = open_registry(home_of(ctx))
    try:
        yield db
    finally:
        db.close()


def progress_bar(*, quiet: bool = False) -> Progress:
    """A transient progress bar on stderr for people; none for --json (``quiet``) or when stderr is
    not a terminal (a log file or a script must not collect its redraws)."""
    from rich.progress import Progress

    return Progress(console=err, transient=True, disable=quiet or not err.is_terminal)


#: a table column: ``whole`` (an identifier, a date: never wrapped), ``number`` (right-aligned,
#: never wrapped) or ``fold`` (text that wraps, its header kept whole)
ColumnKind = Literal["whole", "number", "fold"]


def result_table(title: str | None, *columns: tuple[str, ColumnKind], **options: Any) -> Table:
    """The one look of every table of results: a rule under the header and no side borders, so
    that seven columns with whole identifiers and headers fit 80 columns."""
    from rich import box
    from rich.cells import cell_len
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, collapse_padding=True, **options)
    for header, kind in columns:
        table.add_column(header, justify="right" if kind == "number" else "left",
                         no_wrap=kind != "fold", overflow="fold", min_width=cell_len(header))
    return table


def result(as_json: bool, data: Any, line: str) -> None:
    """A command's result: ``data`` as JSON with --json, else ``line`` (rich markup) for people."""
    if as_json:
        emit_json(data)
    else:
        out.print(line, highlight=False)


def listing(as_json: bool, items: Sequence[T], to_json: Callable[[T], Any], *,
            none: str | None = None) -> bool:
    """A list of results with --json: every item through its renderer, as one JSON array, and
    True (nothing more to print). Without --json: an empty list with ``none`` given (what to do
    to have some) says it on stderr, a note, leaving stdout empty, and True; else False, and
    the command prints its table."""
    if as_json:
        emit_json([to_json(item) for item in items])
    elif not items and none is not None:
        err.print(none, highlight=False)
        return True
    return as_json


def emit_json(data: Any) -> None:
    """Write ``data`` as JSON to stdout (UTF-8, not ASCII-escaped, indented for diffing)."""
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def warn(warnings: Iterable[str]) -> None:
    for warning in warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)


def note_encoding(path: object, encoding: str) -> None:
    """The note people get when a CSV was read as GB18030 (Excel's "CSV" on Chinese Windows)."""
    if encoding != "utf-8":
        err.print(f"note: {escape(str(path))} is not UTF-8; read it as {encoding.upper()} "
                  "(Excel's CSV on Chinese Windows). Save as \"CSV UTF-8\" to avoid the guess.",
                  highlight=False)


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 label``, ``10 labels``, ``2 enterprises`` (``nouns`` when adding "s" is wrong)."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def read_passphrase(passphrase_file: Path | None, *, confirm: bool, what: str) -> bytes:
    """A passphrase from ``--passphrase-file``, else ``JDZHI_PASSPHRASE``, else a hidden prompt on
    a terminal; without a terminal and without either source it is a one-line error.

    ``confirm`` is for a passphrase that creates a key: asked twice at a prompt, and refused when
    shorter than :data:`~jdzhi.trace.keys.keyfile.MIN_PASSPHRASE_CHARS`.
    """
    where = f"give it with --passphrase-file FILE or ${PASSPHRASE_ENV}"
    if passphrase_file is not None:
        text = _passphrase_from_file(passphrase_file)
    elif os.environ.get(PASSPHRASE_ENV):
        # undecodable bytes arrive as surrogates (PEP 383): give the raw bytes back to decode
        text = _utf8(os.fsencode(os.environ[PASSPHRASE_ENV]), f"${PASSPHRASE_ENV}")
    elif not _interactive():
        raise KeyUnusable(f"no passphrase given for {what} and no terminal to ask on: {where}")
    else:
        text = _prompt_passphrase(what, confirm=confirm)
    return _checked(text, what=what, new_key=confirm)


def read_key_passphrase(key_passphrase_file: Path | None, *, what: str) -> bytes:
    """The passphrase of a key handed to a workshop or lab: ``--key-passphrase-file``, else
    ``JDZHI_KEY_PASSPHRASE``, else a prompt on a terminal; never the authority's
    ``JDZHI_PASSPHRASE``, which the workshop would then have to be told."""
    if key_passphrase_file is not None:
        text = _passphrase_from_file(key_passphrase_file)
    elif os.environ.get(KEY_PASSPHRASE_ENV):
        text = _utf8(os.fsencode(os.environ[KEY_PASSPHRASE_ENV]), f"${KEY_PASSPHRASE_ENV}")
    elif _interactive():
        text = _prompt_passphrase(what, confirm=True)
    else:
        raise KeyUnusable(
            f"no passphrase for {what}: give --key-passphrase-file or set {KEY_PASSPHRASE_ENV} "
            f"(a key handed out never gets the authority's {PASSPHRASE_ENV})"
        )
    return _checked(text, what=what, new_key=True)


def _passphrase_from_file(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InvalidInput(f"cannot read passphrase file {path}: {error.strerror}") from None
    return _utf8(raw, f"the passphrase file {path}").rstrip("\r\n")


def _prompt_passphrase(what: str, *, confirm: bool) -> str:
    try:
        text: str = typer.prompt(f"Passphrase for {what}", hide_input=True,
                                 confirmation_prompt=confirm, err=True)
    except typer.Abort:
        raise KeyUnusable(f"no passphrase given for {what}") from None
    return text


def _checked(text: str, *, what: str, new_key: bool) -> bytes:
    if not text:
        raise KeyUnusable(f"the passphrase for {what} is empty")
    passphrase = text.encode("utf-8")
    if new_key:
        from jdzhi.trace.keys.keyfile import check_new_passphrase

        check_new_passphrase(passphrase, what=what)
    return passphrase


def new_key_passphrases(out: Path, passphrase_file: Path | None,
                        key_passphrase_file: Path | None) -> tuple[bytes, bytes]:
    """The authority key's passphrase and the new key's (asked twice), once ``out`` is known to be
    free: an existing KEYFILE is refused before any prompt."""
    from jdzhi.trace.keys.keyfile import check_new_key_path

    check_new_key_path(out)
    authority = read_passphrase(passphrase_file, confirm=False, what="the authority key")
    return authority, read_key_passphrase(key_passphrase_file, what=f"the new key ({out.name})")


def _utf8(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyUnusable(f"{source} is not UTF-8 text; a passphrase must be") from None


def _interactive() -> bool:
    """Whether a hidden prompt can be shown: without a terminal getpass would read the
    passphrase from stdin with a raw GetPassWarning."""
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):  # no stdin, or a closed one
        return False


#: options that many commands share, as Annotated types (``as_json: JsonOption = False``)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
AuthorityOption = Annotated[str | None, typer.Option(
    "--authority", metavar="KEY",
    help="The authority public key that must have signed --trust (base64url, hex or a PEM "
         "file). Default: the home's authority key.",
)]
VerifyTrustOption = Annotated[Path | None, typer.Option(
    "--trust", metavar="FILE", dir_okay=False,
    help="Verify offline against this trust bundle (`jdzhi trust export`) instead of the "
         "registry.",
)]
WitnessOption = Annotated[list[str] | None, typer.Option(
    "--witness", metavar="KEY",
    help="Require a cosignature of the --trust bundle's log checkpoint by this witness (a "
         "testing center): its vkey, or its lab public key (base64url, hex or a PEM file). "
         "Repeat for more witnesses.",
)]
ServerOption = Annotated[str | None, typer.Option(
    "--server", metavar="URL",
    help="The service center's address (where `jdzhi server` runs), e.g. "
         "https://trace.example.cn.",
)]
MaxAgeOption = Annotated[int | None, typer.Option(
    "--max-age", metavar="DAYS", min=0,
    help="Treat a --trust bundle as out of date DAYS days after it was issued, if its own "
         "expiry is later: a good signature then gets stale-trust. Default: the bundle's expiry.",
)]
PassphraseFileOption = Annotated[Path | None, typer.Option(
    "--passphrase-file", metavar="FILE",
    help="Read the key's passphrase from this file (else $JDZHI_PASSPHRASE, else a prompt).",
    dir_okay=False,
)]
KeyPassphraseFileOption = Annotated[Path | None, typer.Option(
    "--key-passphrase-file", metavar="FILE", dir_okay=False,
    help="Passphrase for the NEW key, at least 12 characters, from this file (else "
         "$JDZHI_KEY_PASSPHRASE, else a prompt; never the authority's $JDZHI_PASSPHRASE).",
)]
