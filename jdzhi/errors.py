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
    #: the center's server (``--server URL``) could not be reached or did not answer as jdzhi
    UNREACHABLE = 11
    #: a bug in jdzhi; set JDZHI_DEBUG=1 to see the traceback
    INTERNAL = 70
    #: interrupted by the user (Ctrl-C)
    INTERRUPTED = 130


class JdzhiError(Exception):
    """A user-facing error: ``message`` is one line for people, ``exit_code`` is for scripts."""

    exit_code: ExitCode = ExitCode.INVALID_INPUT

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class InvalidInput(JdzhiError):
    exit_code = ExitCode.INVALID_INPUT


class NotFound(JdzhiError):
    exit_code = ExitCode.NOT_FOUND


class Conflict(JdzhiError):
    exit_code = ExitCode.CONFLICT


class InvalidState(JdzhiError):
    exit_code = ExitCode.INVALID_STATE


class KeyUnusable(JdzhiError):
    exit_code = ExitCode.KEY_ERROR


class IntegrityError(JdzhiError):
    exit_code = ExitCode.INTEGRITY


class NotInitialized(JdzhiError):
    exit_code = ExitCode.NOT_INITIALIZED


class Busy(JdzhiError):
    exit_code = ExitCode.BUSY


class Unreachable(JdzhiError):
    exit_code = ExitCode.UNREACHABLE
