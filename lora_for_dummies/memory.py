"""Giving freed memory back to the operating system."""

from __future__ import annotations

import ctypes
import gc
import sys


def release_freed_memory() -> None:
    """Collect garbage and hand freed heap pages back now.

    Loading a checkpoint converts its tensors (fp16 in the file, fp32 to train) and frees about
    1 GB for SD1.5 in blocks that glibc keeps for reuse; in the webui's long-lived process they
    would stay counted against it after every run. Windows and macOS return such blocks
    themselves, and musl has no `malloc_trim`.
    """
    gc.collect()
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
