"""Torch's CPU threads, as many as there are cores that other processes leave idle.

Extraction and CPU training run many ops, each split across torch's threads with a barrier at
its end. When another process holds a core (a webui generating, a test run), the thread that
shares it waits for the scheduler at every barrier: on 2 cores with one busy, a warm SD1.5
extraction took 80 s with 2 threads and 5.8 s with 1 (idle: 4.0 s with 2), and the demo's
training steps took 8–30 s instead of 1.3 s. So the count follows the cores that others use,
sampled from /proc/stat about twice a second, and is given back at the end (the webui's torch
is the same process). It never goes above the count torch had when the governor began. A thread
of our own that keeps a core busy beside torch (hashing the files an extraction reads) says so
with `helper_thread()`, and the governor leaves it that core while it runs.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_STAT = Path("/proc/stat")
_INTERVAL = 0.5  # seconds between samples: /proc/stat counts in 10 ms ticks
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_helpers = 0
_helpers_lock = threading.Lock()


@contextlib.contextmanager
def helper_thread() -> Iterator[None]:
    """While inside, one core is this thread's: torch's threads leave it (a governor applies it
    at its next `update()`)."""
    global _helpers
    with _helpers_lock:
        _helpers += 1
    try:
        yield
    finally:
        with _helpers_lock:
            _helpers -= 1


def helpers_running() -> int:
    return _helpers


class ThreadGovernor:
    """Use as a context manager; call `update()` between units of work (modules, steps)."""

    def __init__(self) -> None:
        self._torch: Any = None
        self._original = 0
        self._cores = os.cpu_count() or 1
        self._last: tuple[float, float, float] | None = None
        self._others = 0.0  # cores other processes kept busy in the last interval

    def __enter__(self) -> ThreadGovernor:
        import torch

        self._torch = torch
        self._original = torch.get_num_threads()
        self._last = _sample()
        self._apply()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._torch is not None and self._torch.get_num_threads() != self._original:
            self._torch.set_num_threads(self._original)

    def update(self) -> None:
        if self._last is not None and time.perf_counter() - self._last[0] >= _INTERVAL:
            now = _sample()
            if now is None:  # no /proc/stat (not Linux): only our helpers are counted
                self._last = None
            else:
                wall = now[0] - self._last[0]
                # Busy core-seconds of the whole machine, less this process's own CPU time.
                others = (now[1] - self._last[1]) - (now[2] - self._last[2])
                self._last = now
                self._others = max(0.0, others / wall)
        self._apply()

    def _apply(self) -> None:
        free = self._cores - self._others - helpers_running()
        threads = max(1, min(self._original, round(free)))
        if threads != self._torch.get_num_threads():
            self._torch.set_num_threads(threads)


def _sample() -> tuple[float, float, float] | None:
    """(wall clock, busy core-seconds of the machine, this process's CPU seconds)."""
    try:
        fields = _STAT.read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    ticks = [int(value) for value in fields[:8]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    own = os.times()
    return time.perf_counter(), (sum(ticks) - idle) / _TICK, own.user + own.system
