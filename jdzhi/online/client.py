"""The one HTTP client of jdzhi: how `jdzhi push`, `jdzhi lab endorse|push --server`,
`jdzhi scan --server` and `jdzhi trust publish` reach `jdzhi server`.

One rule each:

* **The address**: ``http://`` or ``https://`` with a host (a path is kept, for a proxy's
  prefix); no user name or password, query or fragment. Anything else is InvalidInput (exit 3)
  before anything is read or sent.
* **One User-Agent** (``jdzhi/VERSION``) and timeouts: :data:`CONNECT_TIMEOUT` to connect,
  :data:`ANSWER_TIMEOUT` for an answer, :data:`UPLOAD_TIMEOUT` for a records upload (the server
  verifies every line before it answers). Redirects are not followed.
* **The server's refusals**: its JSON ``{"error": ..., "code": ...}`` becomes the
  :class:`~jdzhi.errors.JdzhiError` of that code (:func:`~jdzhi.errors.error_of_code`) with
  the server's message.
* **A server that cannot be reached**, or answers as no jdzhi server does (connection refused,
  unknown host, timeout, TLS failure, a redirect, a proxy's error page, a server error): one
  :class:`~jdzhi.errors.Unreachable` (exit 11) that says what to run again.

httpx rather than the standard library's urllib: one exception family for every transport
failure, separate connect and read timeouts, keep-alive across the many requests of a scan or an
upload in parts, and the tests' client already. It is imported inside the functions, so that
`jdzhi --help` never loads it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from jdzhi import __version__
from jdzhi.errors import Busy, InvalidInput, JdzhiError, KeyUnusable, Unreachable, error_of_code

if TYPE_CHECKING:
    import httpx

__all__ = [
    "ANSWER_TIMEOUT",
    "CONNECT_TIMEOUT",
    "INSPECTOR_TOKEN_ENV",
    "MAX_WAIT",
    "UPLOAD_TIMEOUT",
    "USER_AGENT",
    "Center",
    "answer_fields",
    "check_server_url",
    "inspector_token",
    "open_center",
]

#: the inspector's token (`jdzhi inspectors add` printed it) for `jdzhi scan --server`
INSPECTOR_TOKEN_ENV = "JDZHI_INSPECTOR_TOKEN"
USER_AGENT = f"jdzhi/{__version__}"
CONNECT_TIMEOUT = 10.0
ANSWER_TIMEOUT = 60.0
#: the longest wait a rate-limited scan sits out before it is sent again
MAX_WAIT = 60
#: a records upload: the center verifies every line (two signatures each) before it answers
UPLOAD_TIMEOUT = 600.0


#: the server's error codes that only HTTP has, as the errors they become here (the library's own
#: are its errors' codes, :func:`jdzhi.errors.error_of_code`)
_HTTP_ERROR_OF: dict[str, type[JdzhiError]] = {
    **dict.fromkeys(("invalid-json", "invalid-utf8", "unknown-field", "missing-field",
                     "wrong-type", "too-large", "unsupported-media-type"), InvalidInput),
    **dict.fromkeys(("unauthorized", "forbidden"), KeyUnusable),
    "rate-limited": Busy,
}


def check_server_url(url: str) -> str:
    """The center's base URL without a trailing slash, or InvalidInput saying what is wrong."""
    text = url.strip()
    if not text or len(text) > 2000 or not text.isprintable() or " " in text:
        raise InvalidInput(f"--server {url[:80]!r} is not a URL")
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput(f"--server {text!r}: give an http:// or https:// URL, e.g. "
                           "https://trace.example.cn")
    try:
        host, _ = parts.hostname, parts.port  # .port refuses a bad port
    except ValueError as error:
        raise InvalidInput(f"--server {text!r}: {error}") from None
    if not host:
        raise InvalidInput(f"--server {text!r} names no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(f"--server {parts.scheme}://...@{host}: put no user name or "
                           "password in the URL")
    if parts.query or parts.fragment:
        raise InvalidInput(f"--server {text!r}: give the center's address without ? or #")
    return text.rstrip("/")


def inspector_token() -> str:
    """The inspector's token from :data:`INSPECTOR_TOKEN_ENV` (never shown), or KeyUnusable."""
    token = os.environ.get(INSPECTOR_TOKEN_ENV, "").strip()
    if not token:
        raise KeyUnusable(f"--server needs the inspector's token in ${INSPECTOR_TOKEN_ENV} "
                          "(`jdzhi inspectors add NAME` at the center prints it once)")
    if not token.isascii() or not token.isprintable() or " " in token or len(token) > 200:
        raise KeyUnusable(f"${INSPECTOR_TOKEN_ENV} is not a token (`jdzhi inspectors add` "
                          "prints one line of letters and digits)")
    return token


class Center:
    """An open connection to the center at ``url`` (from :func:`open_center`)."""

    def __init__(self, url: str, client: httpx.Client) -> None:
        self.url = url
        self._client = client

    def call(self, method: str, path: str, *, what: str, content: bytes | None = None,
             content_type: str | None = None, token: str | None = None,
             params: dict[str, str] | None = None, timeout: float = ANSWER_TIMEOUT,
             patient: bool = False) -> tuple[int, Any]:
        """(status, JSON answer) of a request the center accepted; its refusal as the error of
        its code (message: "the center at URL refused WHAT: ..."); Unreachable otherwise.
        ``patient``: when the center's rate limit says to retry within :data:`MAX_WAIT` s,
        wait and send again (a folder of photos scanned at once)."""
        import time

        import httpx

        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        if token:
            headers["Authorization"] = f"Bearer {token}"
        while True:
            try:
                response = self._client.request(
                    method, self.url + path, content=content, headers=headers, params=params,
                    timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT))
            except httpx.TimeoutException:
                raise Unreachable(f"the center at {self.url} did not answer within "
                                  f"{timeout:g} s") from None
            except httpx.TransportError as error:
                raise Unreachable(f"cannot reach the center at {self.url}: "
                                  f"{_transport_problem(error)}") from None
            wait = response.headers.get("retry-after", "")
            if not (patient and response.status_code == 429 and wait.isdigit()
                    and int(wait) <= MAX_WAIT):
                return response.status_code, self._answer(response, what)
            time.sleep(max(1, int(wait)))

    def _answer(self, response: httpx.Response, what: str) -> Any:
        status = response.status_code
        if 300 <= status < 400:
            raise Unreachable(f"{self.url} redirects to {response.headers.get('location', '?')}"
                              ": give that address with --server")
        body = _json_or_none(response)
        if status == 413 and body is None:
            raise Unreachable(f"a proxy in front of {self.url} refused a request of "
                              f"{len(response.request.content)} bytes (HTTP 413): raise its body "
                              "limit to the center's (nginx: client_max_body_size 32m)")
        if 200 <= status < 300 and body is not None:
            return body
        if isinstance(body, dict) and isinstance(body.get("error"), str) \
                and isinstance(body.get("code"), str):
            message = " ".join(body["error"].split())[:500]
            kind = error_of_code(body["code"]) or _HTTP_ERROR_OF.get(body["code"])
            if kind is not None:
                raise kind(f"the center at {self.url} refused {what}: {message}")
            raise Unreachable(f"the center at {self.url} failed on {what}: {message} "
                              f"(HTTP {status} {body['code']})")
        kind_of_body = response.headers.get("content-type", "no content type").split(";")[0]
        raise Unreachable(f"{self.url} did not answer as a jdzhi server does (HTTP {status}, "
                          f"{kind_of_body}): is --server the center's address?")


def _json_or_none(response: httpx.Response) -> Any:
    if response.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return None
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError):
        return None


def _transport_problem(error: Exception) -> str:
    """What went wrong under a transport error, in a few words."""
    import socket
    import ssl

    seen: Exception | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return f"TLS failed ({getattr(seen, 'reason', None) or seen})"
        if isinstance(seen, socket.gaierror):
            return "its host name is not known (DNS)"
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused (is `jdzhi server` running there?)"
        cause = seen.__cause__ or seen.__context__
        seen = cause if isinstance(cause, Exception) else None
    text = " ".join(str(error).split())
    return text or type(error).__name__


@contextmanager
def open_center(url: str) -> Iterator[Center]:
    """A keep-alive connection to the center (``url`` checked as :func:`check_server_url`)."""
    import httpx

    base = check_server_url(url)
    with httpx.Client(headers={"User-Agent": USER_AGENT}, follow_redirects=False) as client:
        yield Center(base, client)


def answer_fields(answer: Any, center: Center, **kinds: type | tuple[type, ...]) -> dict[str, Any]:
    """The answer as a JSON object with these fields of these kinds, else Unreachable."""
    if not isinstance(answer, dict) or any(
            not isinstance(answer.get(name), kind)
            or (isinstance(answer.get(name), bool) and kind is not bool)
            for name, kind in kinds.items()):
        raise Unreachable(f"{center.url} did not answer as a jdzhi server does (fields "
                          f"{', '.join(kinds)} expected): is --server the center's address?")
    return answer
