"""Keep freed CPU memory in the process between training steps (glibc's ``mallopt``).

A training step allocates and frees the same tensors every step. glibc serves blocks above
its mmap threshold with fresh ``mmap`` pages and gives freed memory at the top of the heap
back to the system above its trim threshold; both send the next step's tensors through page
faults that zero every page again. Its dynamic threshold follows the largest block freed,
but the trim threshold then sits at only twice that, so a step whose working set is many
such blocks (a stack of seeds trained together: ``(S, batch, width)`` activations of
512 KiB at 8 seeds) still pays the faults: 20% of the stacked ring8 step on this CPU
(``benchmarks/speed.py --seeds-together``). PyTorch's CPU tuning guide answers this with
jemalloc or tcmalloc through ``LD_PRELOAD``, which must be set before the process starts;
raising glibc's own two thresholds does the same inside a running process.

Applied once per process by CPU runs. ``MODEGUARD_MALLOC=system`` leaves the allocator as it
was (for processes that embed ModeGuard and tune memory themselves).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

#: glibc ``mallopt`` parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: blocks up to this size come from the heap (glibc's ceiling for the dynamic threshold)
MMAP_THRESHOLD = 32 << 20
#: free memory the heap keeps at its top before returning it to the system
TRIM_THRESHOLD = 256 << 20
#: the environment variable that opts out
ENV = "MODEGUARD_MALLOC"

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; returns whether they are set
    (False off Linux/glibc, or when ``MODEGUARD_MALLOC=system``)."""
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if os.environ.get(ENV, "").strip().lower() == "system" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
