"""One writer per run folder: an advisory ``flock`` on the run's lock file.

The kernel drops a ``flock`` when its holder dies, however it dies, so a stale lock file
of a killed process never blocks anyone. The lock is re-entrant within a process: a
second :meth:`RunLock.acquire` of the same file (from ``start_run`` and then from
``Trainer.fit``, or from nested heals) only counts, and the file is unlocked when the last
holder releases it.
"""
from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from .errors import RunLockedError, write_failure

#: lock files this process holds: resolved path -> [file descriptor, holders]
_HELD: dict[str, list[int]] = {}
_GUARD = threading.Lock()


def _key(path: Path) -> str:
    return os.path.realpath(path)


def _holder_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"


class RunLock:
    """The advisory lock of one run folder, held through a file (``RunDir(...).lock``).

    ``with RunLock(path): ...`` or ``acquire()`` / ``release()``. ``acquire`` creates the
    file's folder if needed and raises :class:`~modeguard.errors.RunLockedError` (naming
    the holder's pid) when another live process holds it, or a
    :class:`~modeguard.errors.RunWriteError` / ``OutputPathError`` when the folder cannot
    be written. Never blocks.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._held = 0  # how many of this object's acquires are not released yet

    def acquire(self) -> "RunLock":
        """Take the lock (or count one more holder in this process); returns ``self``."""
        key = _key(self.path)
        with _GUARD:
            entry = _HELD.get(key)
            if entry is not None:
                entry[1] += 1
            else:
                _HELD[key] = [self._lock_new(), 1]
        self._held += 1
        return self

    def _lock_new(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise write_failure("run folder", self.path.parent, e) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder_pid(fd)
            os.close(fd)
            raise RunLockedError(f"{self.path.parent} is being written by process {pid}; wait for it to "
                                 f"finish or stop it") from None
        except OSError as e:
            os.close(fd)
            raise write_failure("run folder lock", self.path, e) from None
        try:  # who holds it, for the message a second writer gets; best effort
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass
        return fd

    def release(self) -> None:
        """Give back one hold; the file is unlocked when this process holds it no more."""
        if self._held == 0:
            return
        self._held -= 1
        key = _key(self.path)
        with _GUARD:
            entry = _HELD.get(key)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] == 0:
                del _HELD[key]
                fcntl.flock(entry[0], fcntl.LOCK_UN)
                os.close(entry[0])

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._held > 0

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def held_by_this_process(path: str | Path) -> bool:
    """True where this process holds the lock file ``path``."""
    with _GUARD:
        return _key(Path(path)) in _HELD
