"""Background jobs for the API: dataset processing, training, extraction — one at a time.

Each job runs in a thread with its own Reporter; its state is what the API reports.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lora_for_dummies.errors import UserError
from lora_for_dummies.progress import Reporter


@dataclass
class Job:
    id: str
    kind: str
    reporter: Reporter
    started: float = field(default_factory=time.time)
    state: str = "running"  # running | done | failed | stopped
    result: str = ""
    thread: threading.Thread | None = None

    def as_dict(self) -> dict[str, Any]:
        progress = self.reporter.state
        return {"id": self.id, "kind": self.kind, "state": self.state,
                "done": progress.done, "total": progress.total, "text": progress.text,
                "eta_seconds": progress.eta_seconds, "result": self.result,
                "started": self.started, "log": progress.log[-20:]}


class JobManager:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def running(self) -> Job | None:
        return next((j for j in self.jobs.values() if j.state == "running"), None)

    def start(self, kind: str, work: Callable[[Reporter], str], reporter: Reporter) -> Job:
        from lora_for_dummies.gate import GATE, GateBusy

        with self._lock:
            busy = self.running()
            if busy is not None:
                raise GateBusy(f"job {busy.id} ({busy.kind}) is still running")
            job = Job(f"{kind}-{next(self._ids)}", kind, reporter)
            # the host's one gate: a tab's job blocks this one and the other way round
            GATE.enter(f"API job {job.id}", lambda: job.state == "running")
            self.jobs[job.id] = job

        def target() -> None:
            try:
                job.result = work(reporter)
                job.state = "stopped" if reporter.should_stop() else "done"
            except UserError as err:
                job.state, job.result = "failed", str(err)
            except OSError as err:
                from lora_for_dummies.os_errors import os_error_message

                job.state, job.result = "failed", os_error_message(err, "failed on")
            except Exception as err:  # reported through the API, never silent
                job.state, job.result = "failed", f"{type(err).__name__}: {err}"

        job.thread = threading.Thread(target=target, name=f"lfd-{job.id}", daemon=True)
        job.thread.start()
        return job

    def get(self, job_id: str) -> Job:
        if job_id not in self.jobs:
            raise KeyError(job_id)
        return self.jobs[job_id]

