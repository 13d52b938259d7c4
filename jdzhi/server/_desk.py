"""The registry connections of one server process, and group commit of scans.

Commits cost an fsync each (``synchronous = FULL``: an acknowledged scan survives a power cut), a
millisecond or a few on ordinary disks: one commit per scan would cap a server at a few hundred
scans a second. Scans that arrive while a batch is being stored wait for the next one and are
stored together, each judged in order in the same transaction, so that counts and clone rules
see every earlier scan.

Where the batches are stored depends on the database:

* **SQLite**: on the event loop's own thread. Its statements take microseconds, and handing
  every batch to another thread made the two threads take turns at the GIL around each
  statement, which cost more than the statements (measured: 6,600 against 3,900 scans/s on 2
  cores). The loop never waits for another process's lock: a batch that finds the registry
  locked goes to the database thread, which waits.
* **PostgreSQL**: on the database thread, because each statement waits for the server.

Other registry work (reads of the bundle, tokens, serials) is always done on the database thread.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from jdzhi.errors import Busy
from jdzhi.home import Home
from jdzhi.registry.db import Database, dialect_of, open_registry
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
    """Stores scans in batches and runs other registry work off the event loop."""

    def __init__(self, home: Home) -> None:
        self._thread = _DatabaseThread(home)
        on_sqlite = home.database_url is None or dialect_of(home.database_url) == "sqlite"
        self._inline = _LoopScans(home, self._thread.put) if on_sqlite else None

    async def call(self, work: Callable[..., T], *args: Any) -> T:
        """``work(db, *args)`` on the database thread."""
        result: Future[T] = Future()
        self._thread.put(_Call(lambda db: work(db, *args), result))
        return await asyncio.wrap_future(result)

    async def scan(self, request: ScanRequest) -> bytes:
        """Store a scan with the next group commit; its answer (JSON) once committed."""
        scan = _Scan(request, asyncio.get_running_loop().create_future())
        if self._inline is not None:
            self._inline.add(scan)
        else:
            self._thread.put(scan)
        return await scan.answer

    def close(self) -> None:
        """Finish the work already asked for, then close the connections (on the loop)."""
        if self._inline is not None:
            self._inline.close()
        self._thread.close()


class _LoopScans:
    """SQLite's scans, stored on the event loop's thread: the scans that arrived during one turn
    of the loop are stored together at the next."""

    def __init__(self, home: Home, hand_over: Callable[[_Scan], None]) -> None:
        self.home = home
        self._hand_over = hand_over
        self._db: Database | None = None
        self._trust = TrustCache()
        self._waiting: list[_Scan] = []

    def add(self, scan: _Scan) -> None:
        if not self._waiting:
            scan.answer.get_loop().call_soon(self._store)
        self._waiting.append(scan)

    def _store(self) -> None:
        batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
        if self._waiting:
            batch[0].answer.get_loop().call_soon(self._store)
        answers: list[bytes] | Exception
        try:
            answers = store_scans(self._registry(), self._trust,
                                  [scan.request for scan in batch], utc_now())
        except Busy:  # another process is writing: nothing was stored, the thread waits
            for scan in batch:
                self._hand_over(scan)
            return
        except Exception as error:  # the batch is rolled back: each scan fails alike
            answers = error
        _settle(batch, answers)

    def _registry(self) -> Database:
        if self._db is None:
            db = open_registry(self.home)
            db.set_lock_wait(0)
            self._db = db
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class _DatabaseThread:
    """A thread with a registry connection of its own: calls, and scans in batches."""

    def __init__(self, home: Home) -> None:
        self.home = home
        #: scans and calls in arrival order; None asks the thread to finish
        self._jobs: queue.SimpleQueue[_Scan | _Call | None] = queue.SimpleQueue()
        # the thread's own: its connection, the trust cache, a job taken too early
        self._db: Database | None = None
        self._trust = TrustCache()
        self._held: list[_Scan | _Call | None] = []
        self._thread = threading.Thread(target=self._serve, name="jdzhi-registry", daemon=True)
        self._thread.start()

    def put(self, job: _Scan | _Call) -> None:
        self._jobs.put(job)

    def close(self) -> None:
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
        # opened on this thread: an sqlite3 connection stays on its thread
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
