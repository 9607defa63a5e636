"""Keep freed memory inside the process, so CPU training does not page-fault on every step.

PyTorch's CPU tensors come from the C library's `malloc`. With glibc's defaults, a block over the
dynamic mmap threshold (a few MB) is mapped fresh from the kernel and unmapped when freed, and
freed memory at the top of the heap is handed back. A training step frees and re-allocates the same
activations every time, so each step faults its large tensors in again, page by page (4 KiB each),
with the kernel zeroing every page. Measured on the 2-core CI machine (VGG16-BN width 0.25, batch
256): about 50,000 page faults per step and 1,100-1,300 images/s; after `retain_freed_memory()`, no
faults and about 1,550 images/s (1.4x). Reproduce: `python -m vggattn.bench allocator`.

`retain_freed_memory()` sets two glibc options with `mallopt`, for the whole process:
- M_MMAP_THRESHOLD = 32 MiB (glibc's largest allowed value): blocks up to 32 MiB come from the heap,
  so a freed activation is reused by the next step instead of being unmapped;
- M_TRIM_THRESHOLD = 2 GiB: free memory at the top of the heap is kept, up to 2 GiB.
The price: the process keeps its peak memory until it ends. Results do not change (only where the
memory comes from). Elsewhere (macOS, Windows, musl) it does nothing and returns False. The same
setting from the shell, before Python starts: `MALLOC_MMAP_THRESHOLD_=33554432
MALLOC_TRIM_THRESHOLD_=2147483647`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys

M_TRIM_THRESHOLD = -1  # glibc's <malloc.h> parameter numbers
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # DEFAULT_MMAP_THRESHOLD_MAX on 64-bit glibc: larger values are refused
TRIM_THRESHOLD_BYTES = 2**31 - 1  # mallopt takes an int

_applied = False


def retain_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse (see the module docstring); True if it is in effect.

    Idempotent. An explicit opt-in, since it changes the whole process: the command line, the benchmarks and
    the notebooks' setup cell call it; a library caller decides for itself.
    """
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    _applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
    return _applied
