"""Writing files so that nobody ever sees half of one: the one place jdzhi creates output files.

Every file is written first to a temporary file beside its target, named ``.NAME.PID.partial``
(created with its final mode from the first byte, so a key file is never readable by others),
flushed to disk (unless it is one of many that can be made again), and only then given its
name:

- :func:`write_new` and :class:`NewFile` (streaming) link it to the target, which fails rather
  than overwrite a file that appeared meanwhile (outputs people asked for: jdzhi never
  overwrites them);
- :func:`replace_atomically` renames it over the target (exports with ``--force``, caches,
  pages): a reader sees the old file or the new one.

A temporary file left by a process that died is removed by the next :class:`NewFile` or
:func:`replace_atomically` of the same target.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from jdzhi.errors import Conflict, InvalidInput

__all__ = ["NewFile", "check_target", "partial_path", "replace_atomically", "write_new"]

#: link() errors of a file system without hard links: publishing falls back to a checked rename
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK})


def partial_path(path: Path, pid: int | None = None) -> Path:
    """The temporary file of ``path`` written by process ``pid`` (default this one)."""
    return path.with_name(f".{path.name}.{os.getpid() if pid is None else pid}.partial")


def _remove_stale_partials(path: Path) -> None:
    """Remove the temporary files that processes now gone left beside ``path``."""
    prefix = f".{path.name}."
    for partial in path.parent.glob(f"{prefix}*.partial"):
        pid = partial.name[len(prefix):-len(".partial")]
        if not (pid.isascii() and pid.isdigit()):
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            partial.unlink(missing_ok=True)
        except OSError:
            continue


def _cannot_write(path: Path, error: OSError) -> InvalidInput:
    return InvalidInput(f"cannot write {path}: {error.strerror}")


def _create_partial(path: Path, mode: int) -> int:
    """Create this process's temporary file of ``path`` with ``mode``; a file of that name
    is stale (left by a dead process that had our number), as this process writes one target
    at a time."""
    temporary = partial_path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        return os.open(temporary, flags, mode)
    except FileExistsError:
        temporary.unlink(missing_ok=True)
        return os.open(temporary, flags, mode)


class NewFile:
    """A new file written as a stream: ``write`` what it holds, then :meth:`publish` it under
    its name (never over an existing file). Until then it is ``.NAME.PID.partial``, removed in
    every case when the ``with`` block ends; unpublished, nothing appears.

    ``exists`` is the message of the :class:`Conflict` raised when the target exists;
    ``durable=False`` skips waiting for the disk (a file that can be made again, one of
    thousands: a crash still never leaves half a file under the name, a power cut may).
    ``sweep`` first removes the temporary files of this name that dead processes left (a
    scan of the folder: :func:`write_new`, done in a moment, leaves it out)."""

    def __init__(self, path: Path, *, mode: int = 0o644, exists: str | None = None,
                 durable: bool = True, sweep: bool = True) -> None:
        self.path = path
        self.mode = mode
        self.durable = durable
        self.sweep = sweep
        self.exists = exists or f"{path} exists; jdzhi never overwrites"
        #: where the content is written until it is published (writers that take a file name,
        #: such as a PDF canvas, may write here directly)
        self.temporary = partial_path(path)
        self._handle: BinaryIO | None = None

    def __enter__(self) -> NewFile:
        if self.path.exists() or self.path.is_symlink():
            raise Conflict(self.exists)
        if self.sweep:
            _remove_stale_partials(self.path)
        try:
            descriptor = _create_partial(self.path, self.mode)
        except OSError as error:
            raise _cannot_write(self.path, error) from None
        self._handle = os.fdopen(descriptor, "wb")
        return self

    def write(self, data: bytes) -> None:
        assert self._handle is not None, "write inside the with block, before publish"
        try:
            self._handle.write(data)
        except OSError as error:
            raise _cannot_write(self.path, error) from None

    def finish(self) -> None:
        """Everything written is on disk (done by :meth:`publish` when not called before)."""
        if self._handle is None:
            return
        handle, self._handle = self._handle, None
        try:
            handle.close()  # flushes
            if not self.durable:
                return
            # by name, so that what a writer wrote to self.temporary directly reaches the disk too
            descriptor = os.open(self.temporary, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        except OSError as error:
            raise _cannot_write(self.path, error) from None

    def publish(self) -> None:
        """Give the finished file its name; :class:`Conflict` when a file took it meanwhile."""
        self.finish()
        try:
            os.link(self.temporary, self.path)
        except FileExistsError:
            raise Conflict(self.exists) from None
        except OSError as error:
            if error.errno not in _NO_HARD_LINKS:
                raise _cannot_write(self.path, error) from None
            if self.path.exists() or self.path.is_symlink():
                raise Conflict(self.exists) from None
            try:
                os.replace(self.temporary, self.path)
            except OSError as error:
                raise _cannot_write(self.path, error) from None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None
        self.temporary.unlink(missing_ok=True)


def write_new(path: Path, data: bytes, *, mode: int = 0o644, exists: str | None = None,
              durable: bool = True) -> None:
    """Write a file that must not exist yet, whole or not at all; ``mode`` applies from the
    first byte (0o600 for secrets). :class:`Conflict` (message ``exists``) when it exists;
    ``durable`` as for :class:`NewFile`."""
    with NewFile(path, mode=mode, exists=exists, durable=durable, sweep=False) as new:
        new.write(data)
        new.publish()


def replace_atomically(path: Path, data: bytes, *, mode: int = 0o644,
                       durable: bool = True) -> None:
    """Write ``path`` whole, replacing any file of that name in one step: a reader sees the
    old content or the new, never a mixture, even if the process dies midway (``durable``
    as for :class:`NewFile`)."""
    _remove_stale_partials(path)
    temporary = partial_path(path)
    try:
        descriptor = _create_partial(path, mode)
    except OSError as error:
        raise InvalidInput(f"cannot write in {path.parent}: {error.strerror}") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        raise _cannot_write(path, error) from None
    finally:
        temporary.unlink(missing_ok=True)


def check_target(path: Path, *, replace: bool, what: str) -> None:
    """Refuse, before any work is done, an output ``path`` that is a folder, that exists (unless
    ``replace``: ``--force``) or whose folder does not exist; ``what`` names it in the message."""
    if path.is_dir():
        raise InvalidInput(f"{what} {path} is a folder; give a file name")
    if path.exists() and not replace:
        raise Conflict(f"{what} {path} exists; choose another name or pass --force to replace it")
    if not path.parent.is_dir():
        raise InvalidInput(f"{what} {path}: the folder {path.parent} does not exist")
