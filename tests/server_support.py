"""A real `jdzhi server` on 127.0.0.1 for the server tests: started as its own process on a free
port (``--port 0 --json`` says which), ready once ``/healthz`` answers, killed with its children."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from db_support import copy_registry, raw_database
from hardening_support import World, csv_text, home_at, jdzhi_process, ok, run

from jdzhi.home import Home


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    url: str

    def client(self, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, **{"timeout": 60, **options})

    def kill(self) -> None:
        """``kill -9`` of the server and its workers."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> str:
        """Stop it as Ctrl-C does; its stderr."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            _, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            _, err = self.process.communicate()
        return err.decode("utf-8", "replace")


def start_server(home: Path, *args: str, **env: str) -> RunningServer:
    process = jdzhi_process(home, "server", "--port", "0", "--json", *args, **env)
    assert process.stdout is not None
    lines = []
    while True:  # the JSON object printed once the port is bound
        line = process.stdout.readline()
        if not line:
            raise AssertionError("the server did not start: "
                                 + (process.stderr.read() if process.stderr else b"").decode())
        lines.append(line)
        if line.rstrip() == b"}":
            break
    server = RunningServer(process, json.loads(b"".join(lines))["url"])
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200:
                return server
        except httpx.TransportError:
            if time.monotonic() > deadline:
                server.kill()
                raise
        time.sleep(0.05)


@contextmanager
def running_server(home: Path, *args: str, **env: str) -> Iterator[RunningServer]:
    server = start_server(home, *args, **env)
    try:
        yield server
    finally:
        server.stop()


def copy_home(source: Path, target: Path) -> Path:
    """A copy of a home's registry, as a SQLite home (a copy consistent while the registry is in
    use), and of the authority's public key file (the registry's keys are checked against it):
    a signer's or a lab's machine that knows the same keys, where records and endorsements are
    made."""
    import shutil

    target.mkdir(parents=True)
    (target / "keys").mkdir()
    shutil.copy(source / "keys" / "authority.pub", target / "keys" / "authority.pub")
    copy_registry(home_at(source), Home(target))
    return target


def signed_elsewhere(world: World, folder: Path, serials: range, batch: str) -> Path:
    """SIGNED.jsonl made with `jdzhi sign` on a copy of the registry (a workshop's machine)."""
    workshop = copy_home(world.home.path, folder / "workshop-home")
    source = folder / "records.csv"
    source.write_text(csv_text(serials, batch=batch), encoding="utf-8")
    signed = folder / "signed.jsonl"
    ok(run(workshop, "sign", str(source), "--key", str(world.key), "--out", str(signed)))
    return signed


def stored_endorsement(home: Path, report_no: str) -> bytes:
    """The COSE message of an endorsement `jdzhi lab endorse` stored in ``home``."""
    with raw_database(home_at(home)) as db:
        (message,) = db.execute("SELECT message FROM endorsements WHERE report_no = ?",
                                [report_no]).fetchone()
    return bytes(message)


def count(home: Path, sql: str, *params: Any) -> int:
    with raw_database(home_at(home)) as db:
        (value,) = db.execute(sql, list(params)).fetchone()
    return int(value)
