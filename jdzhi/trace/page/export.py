"""The phone verification page: exporting it for static hosting (:mod:`.serve` serves it on
127.0.0.1).

The page (``jdzhi/trace/page/static/``: index.html, verify.js, style.css, noble-ed25519.js,
report.js) verifies a label in the browser: it reads the payload from its own address (the label
URL's path, ``.../V/<payload>``), fetches the authority-signed trust bundle ``trust.cbor`` next to
its script, checks the bundle against the authority public key pinned in the page at export, and
applies the verdict rules of ``jdzhi verify`` with WebCrypto Ed25519 (noble-ed25519.js where a
browser has none). report.js reports the check to the center only where ``jdzhi server`` names
its scan endpoint in the page (:func:`page_contents` with ``scans_url``); an exported page names
none, so it sends nothing anywhere.

An exported folder holds the page files and ``trust.cbor``. The page refers to them as
``../verify.js`` and so on, so the folder is served at the parent path of the label base's folder
(``/`` for the base ``HTTPS://TRACE.EXAMPLE.CN/V/``), and every ``/V/<payload>`` is answered
with ``index.html`` (nginx: ``location /V/ { try_files /index.html =404; }``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from jdzhi.errors import Conflict, InvalidInput
from jdzhi.files import replace_atomically

if TYPE_CHECKING:
    from jdzhi.home import Home
    from jdzhi.trace.trust.model import Trust

__all__ = [
    "AUTHORITY_PLACEHOLDER",
    "BUNDLE_FILE",
    "EXPORTED_FILES",
    "PAGE_FILES",
    "SCANS_META",
    "ExportedPage",
    "base_path",
    "export_page",
    "page_contents",
    "page_source",
]

PAGE_FILES = ("index.html", "verify.js", "style.css", "noble-ed25519.js", "report.js")
BUNDLE_FILE = "trust.cbor"
EXPORTED_FILES = (*PAGE_FILES, BUNDLE_FILE)
AUTHORITY_PLACEHOLDER = "__JDZHI_AUTHORITY_PUBLIC_KEY__"
#: where index.html names the center's scan endpoint: empty (offline) unless `jdzhi server` fills it
SCANS_META = '<meta name="jdzhi-scans" content="">'


def page_source(name: str) -> bytes:
    """One file of the page as shipped in the package."""
    from importlib.resources import files

    return (files("jdzhi.trace.page") / "static" / name).read_bytes()


def page_contents(authority: bytes, *, scans_url: str | None = None) -> dict[str, bytes]:
    """The page's files with ``authority`` pinned in index.html; with ``scans_url`` (a path on
    the page's own origin, for `jdzhi server` only) the page reports each check there."""
    from html import escape

    from jdzhi.trace.formats.records import base64url

    index = page_source("index.html").decode("utf-8")
    assert AUTHORITY_PLACEHOLDER in index and SCANS_META in index
    index = index.replace(AUTHORITY_PLACEHOLDER, base64url(authority))
    if scans_url is not None:
        if not scans_url.startswith("/") or scans_url.startswith("//"):
            raise InvalidInput(f"the scan endpoint {scans_url!r} is not a path on this origin")
        index = index.replace(SCANS_META, SCANS_META.replace('content=""',
                                                             f'content="{escape(scans_url)}"'))
    return {name: index.encode("utf-8") if name == "index.html" else page_source(name)
            for name in PAGE_FILES}


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
    from jdzhi.timeutil import from_unix, utc_now

    _check_target(out, force)
    moment = now or utc_now()
    if bundle is not None:
        data, trust = _read_bundle(bundle, home, authority, moment)
    elif passphrase is not None:
        data, trust = _sign_bundle(home, passphrase, valid_days, moment)
    else:
        raise InvalidInput("the page needs a trust bundle: give one, or the authority passphrase")
    contents = {**page_contents(trust.authority_public_key), BUNDLE_FILE: data}
    try:
        out.mkdir(exist_ok=True)
    except OSError as error:
        raise InvalidInput(f"cannot write the page into {out}: {error.strerror}") from None
    for name, content in contents.items():
        replace_atomically(out / name, content)
    assert trust.expires_at is not None
    return ExportedPage(str(out), EXPORTED_FILES, len(data), from_unix(trust.issued_at),
                        from_unix(trust.expires_at), trust.bases, trust.authority_public_key)


