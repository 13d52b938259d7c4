"""The server's one exception edge: every error becomes ``{"error": "<one line>", "code": ...}``.

A ``JdzhiError`` answers with its own ``code`` and the status :data:`STATUS_OF` gives it;
:class:`ApiError` carries the HTTP-only failures (too large, rate-limited, unauthorized...);
anything else is a bug: a JSON 500 without traceback text (Starlette raises the exception again
once the answer is sent, and uvicorn logs its traceback to stderr).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from jdzhi.errors import (
    JdzhiError,
)

__all__ = ["EXCEPTION_HANDLERS", "STATUS_OF", "ApiError", "error_response",
           "handle_error"]


#: the HTTP status of each library error's code (:attr:`jdzhi.errors.JdzhiError.code`); 400 else
STATUS_OF: dict[str, int] = {
    "not-genuine": 400, "invalid-input": 400, "not-found": 404, "conflict": 409,
    "invalid-state": 409, "key-unusable": 403, "integrity": 422, "busy": 503,
    "not-initialized": 503,
}

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
        status = STATUS_OF.get(error.code, 400)
        headers = {"Retry-After": "5"} if status == 503 else None
        return error_response(status, error.code, error.message, headers)
    if isinstance(error, HTTPException):
        return error_response(error.status_code,
                              _HTTP_CODES.get(error.status_code, "bad-request"), error.detail)
    return error_response(500, "internal", "internal error in the server; it has been logged")


#: the application's exception handlers: every exception goes through :func:`handle_error`
EXCEPTION_HANDLERS = dict.fromkeys((ApiError, JdzhiError, HTTPException, Exception),
                                   handle_error)
