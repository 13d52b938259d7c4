"""The server's one exception edge: every error becomes ``{"error": "<one line>", "code": ...}``.

``JdzhiError`` subclasses map to statuses and codes through :data:`STATUS_OF` (one table);
:class:`ApiError` carries the HTTP-only failures (too large, rate-limited, unauthorized...);
anything else is a bug: a JSON 500 without traceback text (Starlette raises the exception again
once the answer is sent, and uvicorn logs its traceback to stderr).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from jdzhi.errors import (
    Busy,
    Conflict,
    IntegrityError,
    InvalidInput,
    InvalidState,
    JdzhiError,
    KeyUnusable,
    NotFound,
    NotInitialized,
)

__all__ = ["EXCEPTION_HANDLERS", "STATUS_OF", "ApiError", "LogConflict", "NotGenuine",
           "error_response", "handle_error"]


class NotGenuine(InvalidInput):
    """An uploaded signed record that `jdzhi verify` would not call genuine (its own code, so
    that `jdzhi push` can exit 1 as `jdzhi verify` does)."""


class LogConflict(IntegrityError):
    """A published bundle whose log does not extend the current bundle's: a conflict with what
    is published (409), and an integrity failure to the client (`jdzhi trust publish` exits 8,
    as `jdzhi verify --trust` does for a rollback or two histories)."""


#: the library's errors as (HTTP status, machine code); the first matching class wins
STATUS_OF: tuple[tuple[type[JdzhiError], int, str], ...] = (
    (NotGenuine, 400, "not-genuine"),
    (InvalidInput, 400, "invalid-input"),
    (NotFound, 404, "not-found"),
    (Conflict, 409, "conflict"),
    (LogConflict, 409, "integrity"),
    (InvalidState, 409, "invalid-state"),
    (KeyUnusable, 403, "key-unusable"),
    (IntegrityError, 422, "integrity"),
    (Busy, 503, "busy"),
    (NotInitialized, 503, "not-initialized"),
)

#: Starlette's own refusals (no such route, wrong method) by status
_HTTP_CODES = {404: "no-such-endpoint", 405: "method-not-allowed"}


class ApiError(Exception):
    """A refusal that only HTTP has: ``status`` (4xx), a machine ``code`` and a one-line message."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.split()), "code": code}, status_code=status,
                        headers=headers)


def handle_error(_request: Request, error: Exception) -> Response:
    """The exception handler of every route (Starlette calls it for any exception)."""
    if isinstance(error, ApiError):
        return error_response(error.status, error.code, error.message, error.headers)
    if isinstance(error, JdzhiError):
        for kind, status, code in STATUS_OF:
            if isinstance(error, kind):
                headers = {"Retry-After": "5"} if status == 503 else None
                return error_response(status, code, error.message, headers)
        return error_response(400, "invalid-input", error.message)
    if isinstance(error, HTTPException):
        return error_response(error.status_code,
                              _HTTP_CODES.get(error.status_code, "bad-request"), error.detail)
    return error_response(500, "internal", "internal error in the server; it has been logged")


#: the application's exception handlers: every exception goes through :func:`handle_error`
EXCEPTION_HANDLERS = dict.fromkeys((ApiError, JdzhiError, HTTPException, Exception),
                                   handle_error)
