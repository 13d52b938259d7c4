"""Worker processes for big batches: CPU-bound work in chunks, results in the order given.

Signing and verifying records cost tens of microseconds each, mostly Python between the libsodium
calls, so only processes (not threads) use a second core. Workers start with the ``forkserver``
method where the platform has it (safe in a process that runs threads, such as a progress bar's)
and ``spawn`` elsewhere. Starting them costs a few tenths of a second, so a batch gets workers only
when it is large enough to gain from them: :data:`MIN_ITEMS_PER_WORKER` items per worker, at most
one per usable core. ``JDZHI_WORKERS`` sets the number for a run (``0`` or ``1``: this process
only). The ``jdzhi`` command allows workers; library functions use them only when called with
``parallel=True``, because, as with any use of ``multiprocessing``, the calling script must then
guard its entry point with ``if __name__ == "__main__":``.

A task is a plain function of ``(context, chunk)``: what a worker needs travels with each chunk, so
the in-process path runs the very same function. Workers ignore Ctrl-C and exit when their parent
does, however it ends; an exception in the caller cancels the chunks not yet started.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from jdzhi.errors import InvalidInput

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor
    from types import TracebackType

C = TypeVar("C")
T = TypeVar("T")
R = TypeVar("R")

WORKERS_ENV = "JDZHI_WORKERS"
MIN_ITEMS_PER_WORKER = 4_000
#: small enough that a progress bar moves and a cancelled run stops soon
MAX_CHUNK = 2_000
#: modules a worker imports again when it re-runs its parent's main script
_PARENT_MODULES = ("jdzhi.cli",)


def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def worker_count(items: int, *, parallel: bool) -> int:
    """Worker processes for a batch of ``items``: 0 means work in this process. ``parallel``
    allows workers for a big batch; ``JDZHI_WORKERS``, when set, decides instead."""
    setting = os.environ.get(WORKERS_ENV, "").strip()
    if setting:
        if not (setting.isascii() and setting.isdigit()) or int(setting) > 64:
            raise InvalidInput(f"{WORKERS_ENV}={setting!r} must be a number of processes, 0 to 64")
        wanted = int(setting)
    elif parallel:
        wanted = min(usable_cores(), items // MIN_ITEMS_PER_WORKER)
    else:
        wanted = 0
    return wanted if wanted >= 2 and items >= 2 else 0


def _start_worker() -> None:
    """Leave Ctrl-C to the parent, and exit when the parent is gone: a worker blocked on its
    task queue would otherwise outlive a parent killed with SIGKILL, forever."""
    import multiprocessing
    import signal
    import threading
    from multiprocessing.connection import wait

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        sentinel = parent.sentinel
        threading.Thread(target=lambda: (wait([sentinel]), os._exit(1)), daemon=True).start()


class ChunkRunner(Generic[C, T, R]):
    """``task(context, chunk)`` for chunks added one by one, on worker processes for a batch
    of ``expected`` items that deserves them, else here when the results are read.

    Chunks start as soon as they are added, so a caller can keep checking its input while
    workers compute; :meth:`results` yields each chunk's results in the order of :meth:`add`.
    ``preload`` names the module that defines ``task``: the fork server imports it once.
    """

    def __init__(self, task: Callable[[C, Sequence[T]], R], context: C, *,
                 expected: int, preload: str, parallel: bool) -> None:
        self._task = task
        self._context = context
        self._workers = worker_count(expected, parallel=parallel)
        self.chunk_size = max(1, min(MAX_CHUNK, -(-expected // (4 * max(self._workers, 1)))))
        self._pending: deque[Sequence[T] | Future[R]] = deque()
        self._pool: ProcessPoolExecutor | None = None
        self._preload = preload

    def _start(self) -> ProcessPoolExecutor:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        start: Any
        if "forkserver" in multiprocessing.get_all_start_methods():
            start = multiprocessing.get_context("forkserver")
            # A worker re-runs the parent's main script, which for the `jdzhi` command imports
            # the CLI: import it once in the fork server, whose forks inherit it, instead of in
            # every worker (CPython's own '__main__' preload never reaches a script's path).
            start.set_forkserver_preload([self._preload, *(
                name for name in _PARENT_MODULES if name in sys.modules)])
        else:
            start = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(max_workers=self._workers, mp_context=start,
                                   initializer=_start_worker)

    @property
    def workers(self) -> int:
        """Worker processes of the run (0: chunks run here, as their results are read)."""
        return self._workers

    @property
    def pending(self) -> int:
        """Chunks added whose results have not been handed over yet."""
        return len(self._pending)

    def add(self, chunk: Sequence[T]) -> None:
        if not self._workers:
            self._pending.append(chunk)
            return
        if self._pool is None:
            self._pool = self._start()
        self._pending.append(self._pool.submit(self._task, self._context, chunk))

    def results(self) -> Iterator[R]:
        from concurrent.futures import Future

        while self._pending:  # let go of each chunk's results once they are handed over
            item = self._pending.popleft()
            yield item.result() if isinstance(item, Future) else self._task(self._context, item)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ChunkRunner[C, T, R]:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def map_chunks(task: Callable[[C, Sequence[T]], list[R]], context: C, items: Sequence[T], *,
               preload: str, parallel: bool) -> Iterator[R]:
    """``task`` over all ``items`` in chunks (see :class:`ChunkRunner`), results in order."""
    runner: ChunkRunner[C, T, list[R]]
    with ChunkRunner(task, context, expected=len(items), preload=preload,
                     parallel=parallel) as runner:
        for start in range(0, len(items), runner.chunk_size):
            runner.add(items[start:start + runner.chunk_size])
        for results in runner.results():
            yield from results
