"""``jdzhi server``: the service center online."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from jdzhi.commands import _common as common
from jdzhi.server import DEFAULT_SCAN_RATE_LIMIT


def server(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(
        "--host", help="Address to listen on (127.0.0.1: this machine only; put a TLS proxy "
                       "in front for the internet).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(
        "--port", min=0, max=65535, help="Port to listen on; 0 picks a free one.")] = 8000,
    workers: Annotated[int, typer.Option(
        "--workers", min=1, max=64, help="Worker processes (each with its own registry "
                                         "connection).")] = 1,
    scan_rate_limit: Annotated[int, typer.Option(
        "--scan-rate-limit", metavar="PER_MINUTE", min=0,
        help="Scans one client may send per minute (per worker process); 0 for no limit.",
    )] = DEFAULT_SCAN_RATE_LIMIT,
    as_json: common.JsonOption = False,
) -> None:
    """Serve the registry online (the verification page, trust bundle, uploads, scans) until Ctrl-C.

    It holds no private key: it accepts only what keys the authority certified have signed.
    Inspectors authenticate with tokens from `jdzhi inspectors add`. With --json, one JSON object
    with the URL is printed on stdout once the address is bound.

    Example: jdzhi server --host 127.0.0.1 --port 8000 --workers 2
    """
    from jdzhi.server.app import ServerSettings
    from jdzhi.server.run import serve

    home = common.home_of(ctx)
    settings = ServerSettings(home=str(home.path), database_url=home.database_url,
                              scan_rate_limit=scan_rate_limit)

    def started(bound_host: str, bound_port: int) -> None:
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        url = f"http://{shown}:{bound_port}"
        if as_json:
            common.emit_json({"url": url, "host": bound_host, "port": bound_port,
                              "workers": workers, "scan_rate_limit": scan_rate_limit,
                              "home": str(home.path)})
        else:
            common.err.print(f"Serving {escape(str(home.path))} on {url} with {workers} "
                              f"worker(s); Ctrl-C stops")

    serve(settings, host=host, port=port, workers=workers, started=started)
