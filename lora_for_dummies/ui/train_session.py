"""The training run behind the Train tab: one at a time, in a background thread, so the tab
never blocks and a browser refresh finds the run where it is."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lora_for_dummies.errors import UserError
from lora_for_dummies.hosts.base import Host
from lora_for_dummies.train.config import TrainJob


@dataclass
class SessionView:
    running: bool
    text: str
    losses: list[float] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    result: str = ""


class TrainingSession:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.trainer: Any = None
        self.result: str = ""

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self, host: Host, job: TrainJob, resume: bool = False) -> str:
        from lora_for_dummies.train.loop import Trainer

        with self._lock:
            if self.running:
                raise UserError("a training run is already going; stop it first")
            job.validate()
            reporter = host.reporter()
            self.trainer = Trainer(job, host.lora_dir(), reporter,
                                   on_saved=lambda path: host.refresh_loras())
            self.result = ""
            self.thread = threading.Thread(target=self._run, args=(host, resume),
                                           name="lfd-train", daemon=True)
            self.thread.start()
        return f"{'Resuming' if resume else 'Starting'} {job.save.name}…"

    def _run(self, host: Host, resume: bool) -> None:
        try:
            with host.gpu_job():
                outcome = self.trainer.run(resume=resume)
            self.result = outcome.message
        except UserError as err:
            self.result = f"⚠ {err}"
        except Exception as err:  # shown in the tab; the webui keeps running
            self.result = f"⚠ {type(err).__name__}: {err}"
        finally:
            reporter = self.trainer.reporter
            if not reporter.state.finished:
                reporter.finish(self.result)

    def stop(self, save: bool) -> str:
        if not self.running:
            return "Nothing is training."
        self.trainer.save_requested = save
        self.trainer.reporter.request_stop()
        return "Stopping after this step" + (" and saving…" if save else "…")

    def wait(self, timeout: float = 600) -> None:
        if self.thread is not None:
            self.thread.join(timeout)

    def view(self) -> SessionView:
        if self.trainer is None:
            return SessionView(False, "No run yet.")
        state = self.trainer.reporter.state
        losses = []
        log = self.trainer.run_dir / "log.jsonl"
        if log.is_file():
            import json

            for line in log.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                if "loss" in record:
                    losses.append(record["loss"])
        samples = sorted(str(p) for p in (self.trainer.run_dir / "samples").glob("*.png")) \
            if (self.trainer.run_dir / "samples").is_dir() else []
        text = state.summary() + (f"\n{self.result}" if self.result else "")
        if state.log:
            text += "\n" + "\n".join(state.log[-4:])
        return SessionView(self.running, text, losses, samples, self.result)


SESSION = TrainingSession()


def run_folder_losses(run_dir: Path) -> list[float]:
    import json

    log = run_dir / "log.jsonl"
    if not log.is_file():
        return []
    return [json.loads(line)["loss"] for line in log.read_text().splitlines() if '"loss"' in line]
