"""The demo's service center online: a real `jdzhi server` over the demo's home, on 127.0.0.1 on
a free port, in a process of its own for as long as the online steps need it.

The server runs as a separate process (``python -m jdzhi server --port 0 --json``), as it does at
a real center: its settings and the secret of its client hashes live in its own environment, and
stopping it (Ctrl-C's signal) leaves nothing behind in the demo's process. The demo's clock
(``JDZHI_NOW``, when set) reaches it through the environment it inherits.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import jdzhi
from jdzhi.errors import InvalidState
from jdzhi.home import DATABASE_URL_ENV, Home

__all__ = ["RunningCenter", "port_is_open", "start_center"]

#: how long a stopping server may take to finish its requests before it is killed
_STOP_TIMEOUT = 30.0


@dataclass
class RunningCenter:
    """A `jdzhi server` process the demo started; :meth:`stop` ends it (again: a no-op)."""

    process: subprocess.Popen[bytes]
    url: str
    port: int
    log: Path

    def stop(self) -> int:
        """Stop the server as Ctrl-C does (killed if it lingers); its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


def _environment() -> dict[str, str]:
    """The demo's environment, with this very jdzhi first on the path: the center runs the code
    the demo runs, whatever is installed; without JDZHI_DATABASE_URL (the demo's center keeps its
    registry in its home's SQLite file)."""
    source = str(Path(jdzhi.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH", "")
    inherited = {name: value for name, value in os.environ.items() if name != DATABASE_URL_ENV}
    return {**inherited, "PYTHONPATH": os.pathsep.join(p for p in (source, path) if p)}


def _announced(stdout: IO[bytes]) -> dict[str, object] | None:
    """The JSON object `jdzhi server --json` prints once its port is bound; None if it exited."""
    lines: list[bytes] = []
    while line := stdout.readline():
        lines.append(line)
        if line.rstrip() == b"}":
            announced = json.loads(b"".join(lines))
            return announced if isinstance(announced, dict) else None
    return None


def start_center(home: Home, log: Path) -> RunningCenter:
    """Start `jdzhi server` over ``home`` on 127.0.0.1 on a free port, its stderr in ``log``;
    it answers ``/healthz`` when this returns."""
    with log.open("wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "jdzhi", "--home", str(home.path), "server", "--host",
             "127.0.0.1", "--port", "0", "--json"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, env=_environment())
    assert process.stdout is not None
    try:
        announced = _announced(process.stdout)
    except ValueError:
        announced = None
    port = announced.get("port") if announced else None
    if not isinstance(port, int):
        process.kill()
        process.wait()
        said = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        raise InvalidState("the demo's `jdzhi server` did not start"
                           + (f": {said[-1]}" if said else ""))
    center = RunningCenter(process, f"http://127.0.0.1:{port}", port, log)
    try:
        _wait_until_ready(center)
    except BaseException:
        center.stop()
        raise
    return center


def _wait_until_ready(center: RunningCenter) -> None:
    import time

    import httpx

    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{center.url}/healthz", timeout=5, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if center.process.poll() is not None or time.monotonic() > deadline:
            raise InvalidState(f"the demo's `jdzhi server` at {center.url} did not answer "
                               f"(see {center.log})")
        time.sleep(0.05)


def port_is_open(port: int) -> bool:
    """Whether something still listens on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) == 0
