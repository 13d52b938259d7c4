"""What every command shares: the home, the consoles, JSON output and passphrases.

People read rich output on stderr; scripts read JSON on stdout (``--json``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from jdzhi.errors import InvalidInput, KeyUnusable
from jdzhi.home import Home, resolve_home

if TYPE_CHECKING:
    import sqlite_utils
    from rich.progress import Progress

PASSPHRASE_ENV = "JDZHI_PASSPHRASE"
#: the passphrase for a key issued to a workshop or lab, in scripts
KEY_PASSPHRASE_ENV = "JDZHI_KEY_PASSPHRASE"

#: people's output; soft_wrap keeps every error message on one line whatever the terminal width
err_console = Console(stderr=True, soft_wrap=True)


@dataclass(frozen=True)
class CliState:
    home_option: Path | None

    @property
    def home(self) -> Home:
        return resolve_home(self.home_option)


def home_of(ctx: typer.Context) -> Home:
    state = ctx.find_root().obj
    assert isinstance(state, CliState)
    return state.home


@contextmanager
def registry_of(ctx: typer.Context) -> Iterator[sqlite_utils.Database]:
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

    return Progress(console=err_console, transient=True,
                    disable=quiet or not err_console.is_terminal)


def emit_json(data: Any) -> None:
    """Write ``data`` as JSON to stdout (UTF-8, not ASCII-escaped, indented for diffing)."""
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def read_passphrase(passphrase_file: Path | None, *, confirm: bool, what: str) -> bytes:
    """A passphrase from ``--passphrase-file``, else ``JDZHI_PASSPHRASE``, else a hidden prompt.

    ``confirm`` is for a passphrase that creates a key: asked twice at a prompt, and refused when
    shorter than :data:`~jdzhi.trace.keys.keyfile.MIN_PASSPHRASE_CHARS`.
    """
    if passphrase_file is not None:
        text = _passphrase_from_file(passphrase_file)
    elif os.environ.get(PASSPHRASE_ENV):
        text = os.environ[PASSPHRASE_ENV]
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
        text = os.environ[KEY_PASSPHRASE_ENV]
    elif sys.stdin.isatty():
        text = _prompt_passphrase(what, confirm=True)
    else:
        raise KeyUnusable(
            f"no passphrase for {what}: give --key-passphrase-file or set {KEY_PASSPHRASE_ENV} "
            f"(a key handed out never gets the authority's {PASSPHRASE_ENV})"
        )
    return _checked(text, what=what, new_key=True)


def _passphrase_from_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as error:
        raise InvalidInput(f"cannot read passphrase file {path}: {error.strerror}") from None


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
MaxAgeOption = Annotated[int | None, typer.Option(
    "--max-age", metavar="DAYS", min=0,
    help="Treat a --trust bundle as out of date DAYS days after it was issued, if its own "
         "expiry is later: a good signature then gets stale-trust. Default: the bundle's expiry.",
)]
PassphraseFileOption = Annotated[Path | None, typer.Option(
    "--passphrase-file",
    help="Read the key's passphrase from this file (else $JDZHI_PASSPHRASE, else a prompt).",
    dir_okay=False,
)]
KeyPassphraseFileOption = Annotated[Path | None, typer.Option(
    "--key-passphrase-file", dir_okay=False,
    help="Passphrase for the NEW key, at least 12 characters, from this file (else "
         "$JDZHI_KEY_PASSPHRASE, else a prompt; never the authority's $JDZHI_PASSPHRASE).",
)]
