"""The registry connection of one server process, on one thread of its own, and group commit.

SQLite commits cost an fsync each (``synchronous = FULL``: an acknowledged scan survives a power
cut), a few milliseconds on ordinary disks: one commit per scan would cap a server at a few
hundred scans a second. Scans that arrive while a commit is under way wait for the next one and
are stored together, each judged in order in the same transaction, so that counts and clone
rules see every earlier scan. The event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from jdzhi.home import Home
from jdzhi.registry.db import Database, open_registry
from jdzhi.server._scans import ScanRequest, TrustCache, store_scans
from jdzhi.timeutil import utc_now

T = TypeVar("T")

#: scans stored by one commit at most (bounds the time a batch holds the write lock)
MAX_BATCH = 512


class Desk:
    """Runs registry work on this process's database thread; batches scans."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="jdzhi-registry")
        self._db: Database | None = None
        self._trust = TrustCache()
        self._waiting: list[tuple[ScanRequest, asyncio.Future[bytes]]] = []
        self._storing: asyncio.Task[None] | None = None

    def _registry(self) -> Database:
        # opened on the database thread: an sqlite3 connection stays on its thread
        if self._db is None:
            self._db = open_registry(self.home)
        return self._db

    async def call(self, work: Callable[..., T], *args: Any) -> T:
        """``work(db, *args)`` on the database thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: work(self._registry(), *args))

    async def scan(self, request: ScanRequest) -> bytes:
        """Store a scan with the next group commit; its answer (JSON) once committed."""
        answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, answer))
        if self._storing is None:
            self._storing = asyncio.create_task(self._store_waiting())
        return await answer

    async def _store_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                try:
                    answers = await self.call(store_scans, self._trust,
                                              [request for request, _ in batch], utc_now())
                except Exception as error:  # the batch is rolled back: each scan fails alike
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), answer in zip(batch, answers, strict=True):
                    if not future.done():
                        future.set_result(answer)
        finally:
            self._storing = None

    def close(self) -> None:
        def close_db() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        self._executor.submit(close_db).result()
        self._executor.shutdown()
