"""The registry connection of one server process, on one thread of its own, and group commit.

SQLite commits cost an fsync each (``synchronous = FULL``: an acknowledged scan survives a power
cut), a few milliseconds on ordinary disks: one commit per scan would cap a server at a few
hundred scans a second. Scans that arrive while a commit is under way wait for the next one and
are stored together, each judged in order in the same transaction, so that counts and clone
rules see every earlier scan. The event loop never waits on the database.

The database thread takes the next batch itself as soon as a commit is done, rather than being
handed it by the event loop: under load the loop is busy answering requests, and a round trip
through it would leave the database idle between commits.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from jdzhi.home import Home
from jdzhi.registry.db import Database, open_registry
from jdzhi.server._scans import ScanRequest, TrustCache, store_scans
from jdzhi.timeutil import utc_now

T = TypeVar("T")

#: scans stored by one commit at most (bounds the time a batch holds the write lock)
MAX_BATCH = 512


@dataclass(frozen=True)
class _Scan:
    request: ScanRequest
    answer: asyncio.Future[bytes]


@dataclass(frozen=True)
class _Call:
    work: Callable[[Database], Any]
    result: Future[Any]


class Desk:
    """Runs registry work on this process's database thread; batches scans."""

    def __init__(self, home: Home) -> None:
        self.home = home
        #: scans and calls in arrival order; None asks the thread to finish
        self._jobs: queue.SimpleQueue[_Scan | _Call | None] = queue.SimpleQueue()
        # the database thread's own: its connection, the trust cache, a job taken too early
        self._db: Database | None = None
        self._trust = TrustCache()
        self._held: list[_Scan | _Call | None] = []
        self._thread = threading.Thread(target=self._serve, name="jdzhi-registry", daemon=True)
        self._thread.start()

    async def call(self, work: Callable[..., T], *args: Any) -> T:
        """``work(db, *args)`` on the database thread."""
        result: Future[T] = Future()
        self._jobs.put(_Call(lambda db: work(db, *args), result))
        return await asyncio.wrap_future(result)

    async def scan(self, request: ScanRequest) -> bytes:
        """Store a scan with the next group commit; its answer (JSON) once committed."""
        answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._jobs.put(_Scan(request, answer))
        return await answer

    def close(self) -> None:
        """Finish the work already asked for, then close the connection."""
        self._jobs.put(None)
        self._thread.join()

    def _serve(self) -> None:
        try:
            while (job := self._held.pop() if self._held else self._jobs.get()) is not None:
                if isinstance(job, _Call):
                    self._run_call(job)
                else:
                    self._store(self._batch(job))
        finally:
            if self._db is not None:
                self._db.close()

    def _registry(self) -> Database:
        # opened on the database thread: an sqlite3 connection stays on its thread
        if self._db is None:
            self._db = open_registry(self.home)
        return self._db

    def _batch(self, first: _Scan) -> list[_Scan]:
        """``first`` and the scans queued behind it, up to MAX_BATCH or another kind of job."""
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if not isinstance(job, _Scan):
                self._held.append(job)  # its turn comes after this batch
                break
            batch.append(job)
        return batch

    def _store(self, batch: list[_Scan]) -> None:
        answers: list[bytes] | Exception
        try:
            answers = store_scans(self._registry(), self._trust,
                                  [scan.request for scan in batch], utc_now())
        except Exception as error:  # the batch is rolled back: each scan fails alike
            answers = error
        batch[0].answer.get_loop().call_soon_threadsafe(_settle, batch, answers)

    def _run_call(self, job: _Call) -> None:
        if not job.result.set_running_or_notify_cancel():
            return
        try:
            job.result.set_result(job.work(self._registry()))
        except Exception as error:
            job.result.set_exception(error)


def _settle(batch: list[_Scan], answers: list[bytes] | Exception) -> None:
    """On the event loop: each scan of a committed (or failed) batch gets its answer."""
    for index, scan in enumerate(batch):
        if scan.answer.done():  # the client went away
            continue
        if isinstance(answers, Exception):
            scan.answer.set_exception(answers)
        else:
            scan.answer.set_result(answers[index])
