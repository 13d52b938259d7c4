"""Starting the server: check the home, bind the address, then hand the socket to uvicorn (one
process, or ``workers`` processes sharing it)."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from pathlib import Path

from jdzhi.errors import InvalidInput
from jdzhi.home import Home
from jdzhi.registry.db import open_registry
from jdzhi.server import _service as lib
from jdzhi.server._clients import SECRET_ENV
from jdzhi.server.app import SETTINGS_ENV, ServerSettings

__all__ = ["serve"]


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        raise InvalidInput(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.set_inheritable(True)
    return sock


def serve(settings: ServerSettings, *, host: str, port: int, workers: int,
          started: Callable[[str, int], None]) -> None:
    """Serve until interrupted; ``started(host, port)`` is called once the address is bound
    (``port`` 0 picks a free port)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if not 1 <= workers <= 64:
        raise InvalidInput("--workers is 1 to 64")
    if settings.scan_rate_limit < 0:
        raise InvalidInput("--scan-rate-limit is 0 (no limit) or more scans per minute")
    # NotInitialized (or an unreachable database) before binding
    db = open_registry(Home(Path(settings.home), settings.database_url))
    try:
        lib.authority_public_key(db)
    finally:
        db.close()
    sock = _listening_socket(host, port)
    # the workers read these; the client secret lives in memory and their environment only
    os.environ[SETTINGS_ENV] = settings.to_env()
    os.environ[SECRET_ENV] = secrets.token_hex(32)
    config = uvicorn.Config("jdzhi.server.app:create_app", factory=True, workers=workers,
                            log_level="warning", access_log=False, server_header=False)
    server = uvicorn.Server(config)
    started(host, sock.getsockname()[1])
    try:
        if workers > 1:
            Multiprocess(config, sockets=[sock]).run()
        else:
            server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn has shut down gracefully and raised the signal again: a normal stop
    finally:
        sock.close()
