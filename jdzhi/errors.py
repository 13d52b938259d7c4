"""The one exception root of jdzhi and the exit codes the CLI maps it to.

Every error a user can cause is a ``JdzhiError`` carrying a one-line message and an ``ExitCode``.
The CLI catches it in exactly one place (``jdzhi.cli.JdzhiGroup.invoke``).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Process exit codes; README.md lists them (a test keeps the two in step)."""

    OK = 0
    #: a check ran and found a problem: a record that is not genuine, a copy, a broken chain
    CHECK_FAILED = 1
    #: the command line itself is wrong (unknown option, missing argument); set by Click
    USAGE = 2
    #: an input file or value is missing, unreadable or malformed
    INVALID_INPUT = 3
    #: an enterprise, license, key, record or work that does not exist
    NOT_FOUND = 4
    #: the action would duplicate or overwrite something that exists
    CONFLICT = 5
    #: the action is not allowed in the current state (e.g. revoking a revoked license)
    INVALID_STATE = 6
    #: a private key could not be used: wrong passphrase, wrong kind of key, unreadable key file
    KEY_ERROR = 7
    #: stored or received data failed an integrity check (audit chain, trust bundle signature)
    INTEGRITY = 8
    #: the home has no registry yet: run ``jdzhi init``
    NOT_INITIALIZED = 9
    #: the registry stayed locked by another process longer than the busy timeout
    BUSY = 10
    #: the center's server (``--server URL``) could not be reached or did not answer as jdzhi, or
    #: the registry's database server (``--db URL``) could not be reached or refused the login
    UNREACHABLE = 11
    #: a bug in jdzhi; set JDZHI_DEBUG=1 to see the traceback
    INTERNAL = 70
    #: interrupted by the user (Ctrl-C)
    INTERRUPTED = 130


class JdzhiError(Exception):
    """A user-facing error: ``message`` is one line for people, ``exit_code`` is for scripts,
    ``code`` names it in the server's JSON errors (``{"error": ..., "code": ...}``), from which
    a client raises the same error again (:func:`error_of_code`).

    Each kind below declares its exit code and code as class keywords, which also makes it known
    to :func:`error_of_code`; a subclass without them (a narrower message's class, such as
    ``MalformedNote(InvalidInput)``) is its parent's kind."""

    exit_code: ExitCode = ExitCode.INVALID_INPUT
    code: str = "invalid-input"

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __init_subclass__(cls, *, exit_code: ExitCode | None = None, code: str | None = None,
                          **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if (exit_code is None) != (code is None):
            raise TypeError(f"{cls.__name__} names a kind of error by exit_code and code together")
        if exit_code is not None and code is not None:
            cls.exit_code, cls.code = exit_code, code
            _KINDS[code] = cls


#: every kind of error by its code, as the kinds declare themselves
_KINDS: dict[str, type[JdzhiError]] = {}


class InvalidInput(JdzhiError, exit_code=ExitCode.INVALID_INPUT, code="invalid-input"):
    """An input file or value is missing, unreadable or malformed: the message names it and what
    is wrong with it, for the user to correct before running the command again."""


class NotGenuine(JdzhiError, exit_code=ExitCode.CHECK_FAILED, code="not-genuine"):
    """A signed record that `jdzhi verify` would not call genuine, refused (e.g. on upload);
    `jdzhi verify` on the record says why."""


class NotFound(JdzhiError, exit_code=ExitCode.NOT_FOUND, code="not-found"):
    """No enterprise, license, key, record or work has the id, number or name given; the
    matching `list` command shows the ones there are."""


class Conflict(JdzhiError, exit_code=ExitCode.CONFLICT, code="conflict"):
    """The action would duplicate or overwrite something that exists (a registered number, a
    file in the way); nothing was changed: choose another name, or remove what is there."""


class InvalidState(JdzhiError, exit_code=ExitCode.INVALID_STATE, code="invalid-state"):
    """The action is not allowed in the state things are in (revoking a revoked license, a
    database that needs `jdzhi db migrate`); the message says which state that is."""


class KeyUnusable(JdzhiError, exit_code=ExitCode.KEY_ERROR, code="key-unusable"):
    """A private key cannot be used (wrong passphrase, wrong kind of key, unreadable key file),
    or an inspector's token is missing, unknown or revoked: check the file and its passphrase."""


class IntegrityError(JdzhiError, exit_code=ExitCode.INTEGRITY, code="integrity"):
    """Stored or received data failed an integrity check (the audit chain, a certificate, a
    trust bundle's signature), so nothing in it is trusted; `jdzhi registry audit` names what
    is wrong in a registry."""


class NotInitialized(JdzhiError, exit_code=ExitCode.NOT_INITIALIZED, code="not-initialized"):
    """The home has no registry yet: run `jdzhi init`, or name the right home with --home."""


class Busy(JdzhiError, exit_code=ExitCode.BUSY, code="busy"):
    """The registry stayed locked by another process longer than the busy timeout, or the
    center's server is busy or rate-limits this client: try again later."""


class Unreachable(JdzhiError, exit_code=ExitCode.UNREACHABLE, code="unreachable"):
    """The center's server (--server) or the registry's database server (--db) cannot be
    reached or did not answer as it should; nothing stored locally is lost: check the address
    and the network, then run the command again."""


def error_of_code(code: str) -> type[JdzhiError] | None:
    """The error class that ``code`` names (:attr:`JdzhiError.code`), if any."""
    return _KINDS.get(code)
