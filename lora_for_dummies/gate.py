"""One job at a time per host: the tabs (dataset processing, captioning, extraction, the
best-step grid, training) and the job API all pass through this one gate.

A host is one process (the webui, or `serve`), so the gate is per process. Whoever enters
gives a liveness check (its thread or child process still running); a holder that is no longer
alive no longer blocks, so a crashed job can never lock the gate for good.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from lora_for_dummies import messages as msg
from lora_for_dummies.errors import UserError


class GateBusy(UserError):
    """Another job holds the gate (the API answers 409)."""


class JobGate:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # What holds the gate, as people read it ("training demo dog"): a text, or a function
        # giving it when asked (a tab's job names itself once it has started).
        self._holder: tuple[str | Callable[[], str], Callable[[], bool]] | None = None

    def busy(self) -> str | None:
        """What is running, or None."""
        with self._lock:
            return self._busy_locked()

    def _busy_locked(self) -> str | None:
        if self._holder is not None and not self._holder[1]():
            self._holder = None
        if self._holder is None:
            return None
        what = self._holder[0]
        return what() if callable(what) else what

    def enter(self, what: str | Callable[[], str], alive: Callable[[], bool]) -> None:
        """Take the gate for `what` while `alive()` is true, or raise GateBusy."""
        with self._lock:
            running = self._busy_locked()
            if running is not None:
                raise GateBusy(msg.JOB_BUSY.format(running=running))
            self._holder = (what, alive)

    def leave(self, what: str | Callable[[], str]) -> None:
        with self._lock:
            if self._holder is not None and (self._holder[0] is what
                                             or self._holder[0] == what):
                self._holder = None


GATE = JobGate()
