"""Atomic file writes: a temp file beside the target, fsync, rename, fsync the folder.

A crash mid-write never leaves a truncated file under the target's name.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

#: temp files are named ``.<target>.<random>.tmp``; a crash can orphan them (cleaned on start)
TMP_SUFFIX = ".tmp"


def atomic_write_bytes(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(fileobj)`` into a temp file beside ``path``, fsync, then rename it over ``path``.

    Raises whatever ``write`` or the file system raises (``OSError`` for a full disk or a
    read-only folder); the temp file is removed and ``path`` keeps its old content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def clean_orphan_temp_files(folder: str | Path) -> list[Path]:
    """Delete temp files that a killed writer left in ``folder`` (not recursive); returns them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for p in folder.iterdir():
        if p.name.startswith(".") and p.name.endswith(TMP_SUFFIX) and p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed
