"""User-facing errors. The CLI prints each as one line and exits with its ``exit_code``.

Exit codes of the ``modeguard`` command (README, "Bad input"; ``modeguard --help``):

====  =========================================================================
0     done
2     bad input: a config value, strategy, data file, checkpoint or path the user
      gave is wrong; or the run folder is being written by another process
3     training diverged (non-finite losses or weights); the last good checkpoint is kept
4     the collapse monitor stopped the run (``--on-collapse stop``)
5     the machine refused a write or ran out of something: disk full, file-size
      limit, read-only or permission-denied folder, out of memory
130   interrupted (Ctrl-C, SIGTERM, SIGHUP); a checkpoint was saved where a run was under way
====  =========================================================================
"""
from __future__ import annotations

import errno
import os

#: exit codes, by meaning (the table above)
EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3
EXIT_COLLAPSE_STOPPED = 4
EXIT_ENVIRONMENT = 5
EXIT_INTERRUPTED = 130

#: errno values that say the user named a path that cannot be one (exit 2), not that the machine failed
_BAD_PATH_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG, errno.ELOOP,
                    errno.EINVAL}


class ModeGuardError(Exception):
    """Bad input or an unrecoverable run state that the user can act on (exit 2)."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(ModeGuardError):
    """A config value, strategy or option is unknown, of the wrong type or out of range."""


class DataError(ModeGuardError):
    """A data set is unknown, missing, corrupt or malformed."""


class CheckpointError(ModeGuardError):
    """A checkpoint or run directory is unreadable, truncated or incompatible."""


class DivergenceError(ModeGuardError):
    """Training produced non-finite losses; the last good checkpoint is kept (exit 3)."""

    exit_code = EXIT_DIVERGED


class RunLockedError(ModeGuardError):
    """Another live process writes the run folder (exit 2); its pid is in the message."""


class OutputPathError(ModeGuardError):
    """An output path the user gave cannot be written: a folder where a file is meant, a file
    where a folder is meant, a missing parent (exit 2)."""


class RunWriteError(ModeGuardError, OSError):
    """The machine refused a write: disk full, file-size limit, read-only folder, no
    permission (exit 5). Also an ``OSError``, so code that catches those still does."""

    exit_code = EXIT_ENVIRONMENT


class ResourceError(ModeGuardError):
    """The run would not fit the machine: more threads or memory than it has (exit 2,
    raised before anything is written)."""


def describe_os_error(e: OSError) -> str:
    """``strerror`` of ``e`` ("No space left on device"), or its text where it has none."""
    if e.errno is not None and e.strerror:
        return e.strerror
    if e.errno is not None:
        return os.strerror(e.errno)
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__


def write_failure(what: str, path, e: OSError, kept=None) -> ModeGuardError:
    """The one-line error for failing to write ``what`` at ``path``: an :class:`OutputPathError`
    where the path itself is wrong, else a :class:`RunWriteError`. ``kept`` names the last good
    file the failure left in place."""
    tail = f" (last good {what}: {kept} kept)" if kept else ""
    message = f"cannot write {what} {path}: {describe_os_error(e)}{tail}"
    if e.errno in _BAD_PATH_ERRNOS:
        return OutputPathError(message)
    err = RunWriteError(message)
    err.errno = e.errno
    return err
