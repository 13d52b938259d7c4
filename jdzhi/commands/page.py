"""``jdzhi page export`` and ``jdzhi serve``: the phone verification page a label's URL opens."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from jdzhi.commands import _common as common

if TYPE_CHECKING:
    from jdzhi.trace.page.export import ExportedPage

__all__ = ["app", "serve"]

app = typer.Typer(help="The phone verification page: a label's URL opens it, and it checks the "
                       "label's signature in the browser.", no_args_is_help=True)

TrustOption = Annotated[Path | None, typer.Option(
    "--trust", metavar="FILE", dir_okay=False,
    help="Publish this trust bundle (`jdzhi trust export`) instead of signing a new one.",
)]
ValidDaysOption = Annotated[int, typer.Option(
    "--valid-days", help="Days until the page calls a newly signed bundle stale.")]


def _export(ctx: typer.Context, out: Path, *, trust: Path | None, authority: str | None,
            valid_days: int, force: bool, passphrase_file: Path | None) -> ExportedPage:
    from jdzhi.trace.keys.keyfile import read_public_key
    from jdzhi.trace.page.export import export_page

    pinned = read_public_key(authority) if authority else None
    passphrase = None if trust is not None else common.read_passphrase(
        passphrase_file, confirm=False, what="the authority key")
    return export_page(common.home_of(ctx), out, passphrase=passphrase, bundle=trust,
                       authority=pinned, valid_days=valid_days, force=force)


def _exported_json(page: ExportedPage) -> dict[str, object]:
    from jdzhi.timeutil import format_time
    from jdzhi.trace.formats.records import base64url

    return {"path": page.path, "files": list(page.files), "bundle_bytes": page.bundle_bytes,
            "issued_at": format_time(page.issued_at), "expires_at": format_time(page.expires_at),
            "bases": list(page.bases), "page_paths": list(page.page_paths),
            "authority_public_key": base64url(page.authority_public_key)}


@app.command("export")
def export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(metavar="DIR", file_okay=False,
                                        help="Folder to write (created if missing).")],
    trust: TrustOption = None,
    authority: common.AuthorityOption = None,
    valid_days: ValidDaysOption = 30,
    force: Annotated[bool, typer.Option(
        "--force", help="Write into a non-empty folder, replacing the page files in it.")] = False,
    passphrase_file: common.PassphraseFileOption = None,
    as_json: common.JsonOption = False,
) -> None:
    """Write the verification page and a trust bundle into DIR for static hosting.

    DIR gets index.html (with the authority public key pinned in it), verify.js,
    noble-ed25519.js (Ed25519 for browsers whose WebCrypto lacks it), style.css, report.js
    (idle here: only `jdzhi server` makes the page report checks) and trust.cbor (a bundle
    signed now with the authority key, or --trust FILE). Serve DIR at the
    parent path of the label base's folder and answer every label path with index.html; for
    the base HTTPS://TRACE.EXAMPLE.CN/V/ with nginx: `root DIR; location /V/ { try_files
    /index.html =404; }`. Export again to publish fresh statuses.

    Example: jdzhi page export site/ --valid-days 7
    """
    page = _export(ctx, out, trust=trust, authority=authority, valid_days=valid_days,
                   force=force, passphrase_file=passphrase_file)
    if as_json:
        common.emit_json(_exported_json(page))
        return
    common.out.print(
        f"[green]Wrote[/] the verification page into {escape(page.path)} "
        f"({', '.join(page.files)}; bundle valid until {page.expires_at:%Y-%m-%d %H:%M} UTC)"
    )
    paths = ", ".join(f"{path}*" for path in page.page_paths)
    common.out.print(f"Serve it so that {escape(paths)} answers with index.html.")


def serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(
        "--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free port).")] = 8000,
    folder: Annotated[Path | None, typer.Option(
        "--dir", metavar="DIR", file_okay=False,
        help="Serve this folder from `jdzhi page export` as it is.")] = None,
    trust: TrustOption = None,
    authority: common.AuthorityOption = None,
    valid_days: ValidDaysOption = 1,
    passphrase_file: common.PassphraseFileOption = None,
    as_json: common.JsonOption = False,
) -> None:
    """Serve the verification page on 127.0.0.1 for local use and testing, until Ctrl-C.

    Without --dir it exports the page with a freshly signed bundle (or --trust FILE) into a
    temporary folder first. Open a label by replacing its base with the address shown:
    HTTPS://TRACE.EXAMPLE.CN/V/AE... becomes http://127.0.0.1:8000/V/AE...

    Example: jdzhi serve --port 8000
    """
    import tempfile

    from jdzhi.timeutil import format_time
    from jdzhi.trace.page.serve import start_server

    with tempfile.TemporaryDirectory(prefix="jdzhi-page-") as staging:
        if folder is None:
            folder = Path(staging) / "page"
            _export(ctx, folder, trust=trust, authority=authority, valid_days=valid_days,
                    force=False, passphrase_file=passphrase_file)
        with start_server(folder, port) as server:
            urls = [server.url + path for path in server.page.page_paths]
            # the handlers are in place before anyone is told the address: a Ctrl-C or `kill`
            # right after it stops the server cleanly, as any later one does
            previous = signal.signal(signal.SIGTERM, _stop)  # `kill`, `docker stop`: clean up
            try:
                if as_json:
                    common.emit_json({"url": server.url, "port": server.port,
                                      "dir": str(folder), "page_urls": urls,
                                      "bundle_expires_at": format_time(server.page.expires_at)})
                else:
                    common.out.print(f"Serving the verification page from {escape(str(folder))} "
                                     "(Ctrl-C stops)")
                    for url in urls:
                        common.out.print(f"  {escape(url)}<payload>")
                threading.Event().wait()
            except KeyboardInterrupt:
                common.err.print("Stopped.")
            finally:
                signal.signal(signal.SIGTERM, previous)


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
