"""This process's peak resident memory, counted from its own start.

`ru_maxrss` is not that on Linux: a child process inherits the high-water mark of the parent it
was forked from (the kernel carries it across `exec`), so a bench whose parent once held a
6 GB model reports at least 6 GB for every child. The memory map's own mark (`VmHWM`) starts
anew with each `exec`. Other systems have only `ru_maxrss`.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

STATUS = Path("/proc/self/status")


def peak_rss_gb() -> float:
    if STATUS.exists():
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20  # kB
    scale = 2**30 if sys.platform == "darwin" else 2**20  # macOS counts bytes, Linux kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
