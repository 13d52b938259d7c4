"""The one exception root of jdzhi and the exit codes the CLI maps it to.

Every error a user can cause is a ``JdzhiError`` carrying a one-line message and an ``ExitCode``.
The CLI catches it in exactly one place (``jdzhi.cli.JdzhiGroup.invoke``).
"""

from __future__ import annotations

from enum import IntEnum


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
    a client raises the same error again (:func:`error_of_code`)."""

    exit_code: ExitCode = ExitCode.INVALID_INPUT
    code: str = "invalid-input"

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class InvalidInput(JdzhiError):
    exit_code, code = ExitCode.INVALID_INPUT, "invalid-input"


class NotGenuine(JdzhiError):
    """A signed record that `jdzhi verify` would not call genuine, refused (e.g. on upload)."""

    exit_code, code = ExitCode.CHECK_FAILED, "not-genuine"


class NotFound(JdzhiError):
    exit_code, code = ExitCode.NOT_FOUND, "not-found"


class Conflict(JdzhiError):
    exit_code, code = ExitCode.CONFLICT, "conflict"


class InvalidState(JdzhiError):
    exit_code, code = ExitCode.INVALID_STATE, "invalid-state"


class KeyUnusable(JdzhiError):
    exit_code, code = ExitCode.KEY_ERROR, "key-unusable"


class IntegrityError(JdzhiError):
    exit_code, code = ExitCode.INTEGRITY, "integrity"


class NotInitialized(JdzhiError):
    exit_code, code = ExitCode.NOT_INITIALIZED, "not-initialized"


class Busy(JdzhiError):
    exit_code, code = ExitCode.BUSY, "busy"


class Unreachable(JdzhiError):
    exit_code, code = ExitCode.UNREACHABLE, "unreachable"


def error_of_code(code: str) -> type[JdzhiError] | None:
    """The error class that ``code`` names (:attr:`JdzhiError.code`), if any."""
    return {kind.code: kind for kind in (
        InvalidInput, NotGenuine, NotFound, Conflict, InvalidState, KeyUnusable, IntegrityError,
        NotInitialized, Busy, Unreachable)}.get(code)
