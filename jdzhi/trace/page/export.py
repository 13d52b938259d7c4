"""The phone verification page: exporting it for static hosting and serving it on 127.0.0.1.

The page (``jdzhi/trace/page/static/``: index.html, verify.js, style.css, noble-ed25519.js)
verifies a label in the browser: it reads the payload from its own address (the label URL's
path, ``.../V/<payload>``), fetches the authority-signed trust bundle ``trust.cbor`` next to its
script, checks the bundle against the authority public key pinned in the page at export, and
applies the verdict rules of ``jdzhi verify`` with WebCrypto Ed25519 (noble-ed25519.js where a
browser has none).

An exported folder holds the page files and ``trust.cbor``. The page refers to them as
``../verify.js`` and so on, so the folder is served at the parent path of the label base's folder
(``/`` for the base ``HTTPS://TRACE.EXAMPLE.CN/V/``), and every ``/V/<payload>`` is answered
with ``index.html`` (nginx: ``location /V/ { try_files /index.html =404; }``).
"""

from __future__ import annotations

import http.server
import os
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from jdzhi.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    from jdzhi.home import Home
    from jdzhi.trace.trust.model import Trust

PAGE_FILES = ("index.html", "verify.js", "style.css", "noble-ed25519.js")
BUNDLE_FILE = "trust.cbor"
EXPORTED_FILES = (*PAGE_FILES, BUNDLE_FILE)
AUTHORITY_PLACEHOLDER = "__JDZHI_AUTHORITY_PUBLIC_KEY__"
DEFAULT_PORT = 8000

_CONTENT_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "verify.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "noble-ed25519.js": "text/javascript; charset=utf-8",
    BUNDLE_FILE: "application/cbor",
}
#: the page needs nothing from elsewhere; these headers say so again beside its own CSP meta tag
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def page_source(name: str) -> bytes:
    """One file of the page as shipped in the package."""
    from importlib.resources import files

    return (files("jdzhi.trace.page") / "static" / name).read_bytes()


@dataclass(frozen=True)
class ExportedPage:
    """A folder ready for static hosting: the page, the bundle, and what the bundle says."""

    path: str
    files: tuple[str, ...]
    bundle_bytes: int
    issued_at: datetime
    expires_at: datetime
    bases: tuple[str, ...]
    authority_public_key: bytes

    @property
    def page_paths(self) -> tuple[str, ...]:
        """The URL paths the page answers (``/V/`` + payload), one per label base."""
        return tuple(dict.fromkeys(base_path(base) for base in self.bases))


def base_path(base: str) -> str:
    """The path of a label base: ``HTTPS://TRACE.EXAMPLE.CN/V/`` -> ``/V/``."""
    after_scheme = base.split("://", 1)[1]
    return after_scheme[after_scheme.index("/"):]


def _check_target(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"{out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise Conflict(f"folder {out} is not empty; pass --force to replace the page files in it")
    if not out.exists() and not out.parent.is_dir():
        raise InvalidInput(f"folder {out.parent} does not exist")


def _read_bundle(path: Path, home: Home, authority: bytes | None, now: datetime
                 ) -> tuple[bytes, Trust]:
    """An existing bundle file, checked against the pinned authority key before it is used."""
    from jdzhi.trace.trust.bundle import decode_bundle, read_bundle

    trust = read_bundle(path, authority=authority, home=home, now=now)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InvalidInput(f"cannot read trust bundle {path}: {error.strerror}") from None
    # the bytes published are the bytes checked, even if the file changed in between
    return data, decode_bundle(data, trust.authority_public_key, now=now, source=trust.source)


def _sign_bundle(home: Home, passphrase: bytes, valid_days: int, now: datetime
                 ) -> tuple[bytes, Trust]:
    from jdzhi.trace.trust.bundle import decode_bundle, export_bundle

    with tempfile.TemporaryDirectory(prefix="jdzhi-bundle-") as staging:
        target = Path(staging) / BUNDLE_FILE
        exported = export_bundle(home, target, passphrase, valid_days=valid_days, now=now)
        data = target.read_bytes()
    return data, decode_bundle(data, exported.authority_public_key, now=now)


def export_page(
    home: Home,
    out: Path,
    *,
    passphrase: bytes | None = None,
    bundle: Path | None = None,
    authority: bytes | None = None,
    valid_days: int = 30,
    force: bool = False,
    now: datetime | None = None,
) -> ExportedPage:
    """Write the page and a trust bundle into ``out`` for static hosting.

    The bundle is either ``bundle`` (an existing file, checked against ``authority`` or the
    home's authority key) or signed now from the registry with the authority key's
    ``passphrase``. The authority public key is pinned in ``index.html``. A non-empty ``out`` is
    refused unless ``force`` (then only the page files in it are replaced).
    """
    from jdzhi.timeutil import utc_now
    from jdzhi.trace.formats.common import from_unix
    from jdzhi.trace.formats.records import base64url

    _check_target(out, force)
    moment = now or utc_now()
    if bundle is not None:
        data, trust = _read_bundle(bundle, home, authority, moment)
    elif passphrase is not None:
        data, trust = _sign_bundle(home, passphrase, valid_days, moment)
    else:
        raise InvalidInput("the page needs a trust bundle: give one, or the authority passphrase")
    index = page_source("index.html").decode("utf-8")
    assert AUTHORITY_PLACEHOLDER in index
    contents = {
        "index.html": index.replace(AUTHORITY_PLACEHOLDER,
                                    base64url(trust.authority_public_key)).encode("utf-8"),
        **{name: page_source(name) for name in PAGE_FILES if name != "index.html"},
        BUNDLE_FILE: data,
    }
    try:
        out.mkdir(exist_ok=True)
        for name, content in contents.items():
            _write_replacing(out / name, content)
    except OSError as error:
        raise InvalidInput(f"cannot write the page into {out}: {error.strerror}") from None
    assert trust.expires_at is not None
    return ExportedPage(str(out), EXPORTED_FILES, len(data), from_unix(trust.issued_at),
                        from_unix(trust.expires_at), trust.bases, trust.authority_public_key)


def _write_replacing(path: Path, content: bytes) -> None:
    """Write next to ``path`` then rename over it, so a reader never sees half a file."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------------
# serving on 127.0.0.1


def check_exported(folder: Path, now: datetime | None = None) -> ExportedPage:
    """Check an exported folder (every file, its bundle signed by the key pinned in its page)
    so that the server never serves a half or inconsistent page; say what it holds."""
    import re

    from jdzhi.errors import IntegrityError
    from jdzhi.timeutil import utc_now
    from jdzhi.trace.formats.common import LabelError, from_unix
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
        if name not in _CONTENT_TYPES:
            # a label path (.../V/<payload>) or the bare folder: the page reads its address
            name = "index.html"
        try:
            body = (self.folder / name).read_bytes()
        except OSError:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", _CONTENT_TYPES[name])
        self.send_header("Content-Length", str(len(body)))
        for header, value in _SECURITY_HEADERS.items():
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
