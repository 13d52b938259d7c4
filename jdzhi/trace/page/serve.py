"""Serving an exported phone verification page on 127.0.0.1 (``jdzhi serve``), for trying labels
on a phone or in a browser before the page is hosted.

The server answers GET and HEAD only, from an exported folder it has checked first
(:func:`check_exported`): a page file by its name, ``index.html`` for any other path.
"""

from __future__ import annotations

import http.server
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jdzhi.errors import Conflict, InvalidInput
from jdzhi.trace.page.export import BUNDLE_FILE, EXPORTED_FILES, ExportedPage, base_path

__all__ = [
    "CONTENT_TYPES",
    "DEFAULT_PORT",
    "SECURITY_HEADERS",
    "PageServer",
    "check_exported",
    "start_server",
]

DEFAULT_PORT = 8000

CONTENT_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "verify.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "noble-ed25519.js": "text/javascript; charset=utf-8",
    "report.js": "text/javascript; charset=utf-8",
    BUNDLE_FILE: "application/cbor",
}
#: the page needs nothing from elsewhere; these headers say so again beside its own CSP meta tag
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def check_exported(folder: Path, now: datetime | None = None) -> ExportedPage:
    """Check an exported folder (all its files, its bundle signed by the key pinned in its page)
    so that the server never serves a half or inconsistent page; say what it holds."""
    import re

    from jdzhi.errors import IntegrityError
    from jdzhi.timeutil import from_unix, utc_now
    from jdzhi.trace.formats.common import LabelError
    from jdzhi.trace.formats.records import base64url_decode
    from jdzhi.trace.trust.bundle import decode_bundle

    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a folder")
    missing = [name for name in EXPORTED_FILES if not (folder / name).is_file()]
    if missing:
        raise InvalidInput(
            f"{folder} is not an exported page (missing {', '.join(missing)}): "
            "run `jdzhi page export` first"
        )
    try:
        index = (folder / "index.html").read_text(encoding="utf-8")
        data = (folder / BUNDLE_FILE).read_bytes()
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"cannot read the page in {folder}: {error}") from None
    pinned = re.search(r'<meta name="jdzhi-authority" content="([A-Za-z0-9_-]{43})">', index)
    try:
        authority = base64url_decode(pinned.group(1)) if pinned else b""
    except LabelError:
        authority = b""
    if len(authority) != 32:
        raise InvalidInput(f"{folder}/index.html has no authority public key pinned in it")
    trust = decode_bundle(data, authority, now=now or utc_now(), source=f"{folder}/{BUNDLE_FILE}")
    if trust.expires_at is None:
        raise IntegrityError(f"{folder}/{BUNDLE_FILE} has no expiry")
    return ExportedPage(str(folder), EXPORTED_FILES, len(data), from_unix(trust.issued_at),
                        from_unix(trust.expires_at), trust.bases, authority)


class _PageHandler(http.server.BaseHTTPRequestHandler):
    """GET and HEAD only: a page file by its name, ``index.html`` for any other path."""

    folder: Path
    server_version = "jdzhi"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _answer(self, *, with_body: bool) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        name = path.rsplit("/", 1)[-1]
        if not path.startswith("/"):
            self.send_error(400)
            return
        if name not in CONTENT_TYPES:
            # a label path (.../V/<payload>) or the bare folder: the page reads its address
            name = "index.html"
        try:
            body = (self.folder / name).read_bytes()
        except OSError:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPES[name])
        self.send_header("Content-Length", str(len(body)))
        for header, value in SECURITY_HEADERS.items():
            self.send_header(header, value)
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: requests carry label payloads, and the console belongs to the command."""


@dataclass
class PageServer:
    """An HTTP server for an exported page, running in a background thread."""

    page: ExportedPage
    httpd: http.server.ThreadingHTTPServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        """The server's origin, e.g. ``http://127.0.0.1:8000``."""
        return f"http://127.0.0.1:{self.port}"

    def label_url(self, label_text: str, base: str) -> str:
        """The address of this server's page for a label: the label's base replaced."""
        if not label_text.startswith(base):
            raise InvalidInput("the label does not start with the given base")
        return self.url + base_path(base) + label_text[len(base):]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()

    def __enter__(self) -> PageServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_server(folder: Path, port: int = DEFAULT_PORT) -> PageServer:
    """Serve an exported page on 127.0.0.1 (``port`` 0: any free port) until ``close()``."""
    page = check_exported(folder)
    if not 0 <= port <= 65535:
        raise InvalidInput(f"port {port} is not 0..65535")
    resolved = folder.resolve()

    class Handler(_PageHandler):
        folder = resolved

    try:
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    except OSError as error:
        raise Conflict(f"cannot listen on 127.0.0.1:{port}: {error.strerror}") from None
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="jdzhi-page", daemon=True)
    thread.start()
    return PageServer(page, httpd, thread)
