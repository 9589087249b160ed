"""One progress interface for every job: the UI, the CLI, the webui's `shared.state`, the API.

A job calls `reporter.start(total, job)`, then `reporter.step(done, text)` and checks
`reporter.should_stop()` between units of work. Reporters never raise from these calls.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any


class StopRequested(Exception):
    """Raised inside a job's long preparation (loading, caching) when Stop was pressed, so the
    job ends within seconds instead of at its first unit of work; the job catches it."""


@dataclass
class ProgressState:
    job: str = ""
    done: int = 0
    total: int = 0
    text: str = ""
    started: float = 0.0
    finished: bool = False
    log: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    # (done, time) of the first step report: the rate, and so the ETA, counts from there, so
    # that model loading and caching before it do not make every step look slow.
    origin: tuple[int, float] | None = None
    # Seconds since the origin spent on one-off work inside steps (latents a CPU run encodes as
    # its first steps need them, again after a resume): left out of the rate, or the first
    # step of a resumed run says minutes for a few steps of a second.
    untimed: float = 0.0
    warning: str = ""  # stays in the summary for the whole job (e.g. "this run takes 5 hours")

    @property
    def eta_seconds(self) -> float | None:
        if not self.total or self.origin is None or self.done <= self.origin[0]:
            return None
        done, since = self.origin
        per_unit = max(time.monotonic() - since - self.untimed, 0.0) / (self.done - done)
        return per_unit * max(self.total - self.done, 0)

    def summary(self) -> str:
        eta = self.eta_seconds
        eta_text = f", ETA {format_seconds(eta)}" if eta is not None and not self.finished else ""
        count = f"{self.done}/{self.total}" if self.total else str(self.done)
        line = f"{self.job}: {count}{eta_text}" + (f" — {self.text}" if self.text else "")
        return line + (f"\n⚠ {self.warning}" if self.warning else "")


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Reporter:
    """Collects progress; thread-safe. Subclasses forward it somewhere (console, webui)."""

    def __init__(self) -> None:
        self.state = ProgressState()
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def start(self, total: int, job: str) -> None:
        with self._lock:
            self.state = ProgressState(job=job, total=total, started=time.monotonic())
        self._stop.clear()
        self.on_update()

    def step(self, done: int, text: str = "") -> None:
        with self._lock:
            if self.state.origin is None:
                self.state.origin = (done, time.monotonic())
            self.state.done, self.state.text = done, text
        self.on_update()

    def untimed(self, seconds: float) -> None:
        """Seconds of the current unit that will not recur, left out of the ETA's rate (see
        `ProgressState.untimed`); said before that unit's `step`."""
        with self._lock:
            if self.state.origin is not None:
                self.state.untimed += seconds

    def phase(self, text: str) -> None:
        """What the job does before its first step (loading, caching): shown, but the step
        count and the ETA do not start."""
        with self._lock:
            self.state.text = text
        self.on_update()

    def warn(self, text: str) -> None:
        """A warning that stays in the summary until the job ends (also logged)."""
        with self._lock:
            self.state.warning = text
        self.log(f"⚠ {text}")

    def log(self, line: str) -> None:
        with self._lock:
            self.state.log.append(line)
        self.on_log(line)

    def image(self, path: str) -> None:
        with self._lock:
            self.state.images.append(path)

    def finish(self, text: str = "") -> None:
        with self._lock:
            self.state.finished = True
            if text:
                self.state.text = text
        self.on_update()

    def request_stop(self) -> None:
        self._stop.set()

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def on_update(self) -> None:
        """Hook for subclasses."""

    def on_log(self, line: str) -> None:
        """Hook for subclasses."""


class ConsoleReporter(Reporter):
    """Progress on one terminal line, log lines above it.

    The last line is printed once, however often a job (and its caller) says it is finished.
    When the stream is not a terminal (a log file, a pipe) only log lines and that last line are
    written: carriage-return updates would pile up there as one unreadable line.
    """

    def __init__(self, stream: Any = None) -> None:
        super().__init__()
        self.stream = stream or sys.stderr
        self._final_printed: ProgressState | None = None
        isatty = getattr(self.stream, "isatty", None)
        self._tty = bool(isatty and isatty())

    open_lines: set[int] = set()  # streams whose last line is a progress line, not yet ended

    def on_update(self) -> None:
        if self.state.finished:
            if self._final_printed is self.state:
                return
            self._final_printed = self.state
            self.stream.write(("\r\033[K" if self._tty else "") + self.state.summary() + "\n")
            ConsoleReporter.open_lines.discard(id(self.stream))
        elif self._tty:
            self.stream.write("\r\033[K" + self.state.summary())
            ConsoleReporter.open_lines.add(id(self.stream))
        else:
            return
        self.stream.flush()

    def on_log(self, line: str) -> None:
        self.stream.write(("\r\033[K" if self._tty else "") + line + "\n")
        self.stream.flush()
        ConsoleReporter.open_lines.discard(id(self.stream))

    @staticmethod
    def end_line(stream: Any) -> None:
        """End a progress line left open by a failed job, so that the error gets its own."""
        if id(stream) in ConsoleReporter.open_lines:
            stream.write("\n")
            ConsoleReporter.open_lines.discard(id(stream))
