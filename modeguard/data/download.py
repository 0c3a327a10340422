"""Fetch data files for users with internet access: checksum-verified, written atomically.

ModeGuard never downloads anything by itself; call :func:`download` (or
:func:`download_files`) explicitly, then point ``--data mnist:DIR`` at the folder::

    from modeguard.data.download import download
    download("https://example.org/train-images-idx3-ubyte.gz", "data/mnist/train-images-idx3-ubyte.gz",
             sha256="...")
"""
from __future__ import annotations

import hashlib
import re
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import ConfigError, DataError
from ..atomic import atomic_write_bytes

CHUNK = 1 << 20
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of the file at ``path``, read in ``CHUNK``-byte blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def download(url: str, dest: str | Path, sha256: str, timeout: float = 60.0) -> Path:
    """Fetch ``url`` into ``dest`` unless ``dest`` already holds a file with that sha256.

    The body streams into a temporary file beside ``dest`` while being hashed; only a body
    whose sha256 matches is renamed to ``dest``, so ``dest`` is either absent, the old file,
    or the verified new one. HTTP and network failures and a checksum mismatch raise
    :class:`~modeguard.errors.DataError`.
    """
    expected = str(sha256).strip().lower()
    if not _HEX64.match(expected):
        raise ConfigError(f"sha256 for {url} must be 64 hexadecimal digits, got {sha256!r}")
    dest = Path(dest)
    if dest.is_file() and sha256_of(dest) == expected:
        return dest

    def fetch_into(f) -> None:
        h = hashlib.sha256()
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                while block := response.read(CHUNK):
                    h.update(block)
                    f.write(block)
        except urllib.error.HTTPError as e:
            raise DataError(f"download {url} failed: HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise DataError(f"download {url} failed: {reason}") from None
        got = h.hexdigest()
        if got != expected:  # raising here deletes the temporary file
            raise DataError(f"download {url}: sha256 mismatch (expected {expected}, got {got}); "
                            f"{dest} left unchanged")

    atomic_write_bytes(dest, fetch_into)
    return dest


def download_files(base_url: str, files: dict[str, str], directory: str | Path, timeout: float = 60.0) -> Path:
    """Fetch every ``name -> sha256`` of ``files`` from ``base_url/name`` into ``directory``.

    Returns ``directory``; raises as :func:`download` does, at the first file that fails.
    """
    directory = Path(directory)
    for name, digest in files.items():
        download(base_url.rstrip("/") + "/" + name, directory / name, digest, timeout)
    return directory
