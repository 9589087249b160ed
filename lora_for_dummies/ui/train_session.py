"""The training run behind the Train tab: one at a time, in a background thread, so the tab
never blocks and a browser refresh finds the run where it is."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lora_for_dummies import messages as msg
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
    total_steps: int = 0  # of the run, when known (the loss chart spans it)
    finished: str = ""  # a finished run's final block: its file, how to use it, best step


class TrainingSession:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.process: Any = None  # accelerate launch, for several GPUs
        self.run_dir: Path | None = None
        self.trainer: Any = None
        self.result: str = ""
        self.outcome: Any = None  # the in-process run's RunResult, once it ended
        # The outcome whose final block a refused Start put away: beside the refusal it would
        # read as the answer to that Start. The next run's own block shows again.
        self.dismissed: Any = None

    @property
    def running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return self.thread is not None and self.thread.is_alive()

    def start(self, host: Host, job: TrainJob, resume: bool = False, gpus: int = 1,
              task_id: str = "", overwrite: bool = False) -> str:
        from lora_for_dummies.gate import GATE
        from lora_for_dummies.job_paths import confine_train_job
        from lora_for_dummies.train.guard import check_name_clash, check_resumable
        from lora_for_dummies.train.loop import Trainer

        with self._lock:
            if self.running:
                raise msg.TRAINING_RUNNING.error()
            running = GATE.busy()
            if running is not None:
                raise msg.JOB_BUSY.error(running=running)
            job.validate()
            confine_train_job(job, host)  # the tab's jobs name things too, never other paths
            if not resume:  # said now, in the tab; the run checks it again
                check_name_clash(job, host.lora_dir(), overwrite)
            else:
                check_resumable(job)
            self.run_dir = job.run_dir
            if gpus > 1:
                return self._launch(host, job, resume, gpus, overwrite)
            self.process = None
            reporter = host.reporter()
            self.trainer = Trainer(job, host.lora_dir(), reporter,
                                   on_saved=lambda path: host.refresh_loras(),
                                   overwrite=overwrite)
            self.result, self.outcome = "", None
            self.thread = threading.Thread(target=self._run, args=(host, resume, task_id),
                                           name="lfd-train", daemon=True)
            thread = self.thread  # not started yet counts as running: nobody slips in between
            GATE.enter(f"training {job.save.name}",
                       lambda: thread.ident is None or thread.is_alive())
            self.thread.start()
        # Said once and kept until the next action: true at the run's end too.
        return f"{'Resumed' if resume else 'Started'} {job.save.name}: its progress is below"

    def _launch(self, host: Host, job: TrainJob, resume: bool, gpus: int,
                overwrite: bool) -> str:
        from lora_for_dummies.train.launch import accelerate_command, launch

        if not job.save.lora_dir:
            job.save.lora_dir = str(host.lora_dir())
        from lora_for_dummies.gate import GATE

        self.trainer, self.result = None, ""
        self.process, _ = launch(job, gpus, resume=resume, overwrite=overwrite)
        GATE.enter(f"training {job.save.name} on {gpus} GPUs", lambda: self.running)
        command = " ".join(accelerate_command(self.run_dir / "job.toml", gpus, resume=resume,
                                              overwrite=overwrite))
        return f"Started on {gpus} GPUs: {command}"

    def _run(self, host: Host, resume: bool, task_id: str) -> None:
        try:
            with host.gpu_job(task_id):
                if note := host.gpu_job_note():  # said in the run's log once it starts
                    self.trainer.start_notes.append(note)
                outcome = self.trainer.run(resume=resume)
            self.result = outcome.message
            self.outcome = outcome
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
        if self.process is not None:
            from lora_for_dummies.train.launch import request_stop

            request_stop(self.run_dir, save)
            return stop_message(self.run_dir, save)
        self.trainer.save_requested = save
        self.trainer.reporter.request_stop()
        return stop_message(self.run_dir, save)

    def dismiss_finished(self) -> None:
        """Put away the final block shown now (a run still going has none yet)."""
        self.dismissed = self.outcome

    def wait(self, timeout: float = 600) -> None:
        if self.process is not None:
            self.process.wait(timeout)
        elif self.thread is not None:
            self.thread.join(timeout)

    def view(self) -> SessionView:
        if self.run_dir is None:
            return SessionView(False, "No run yet.")
        losses = run_folder_losses(self.run_dir)
        samples = sorted(str(p) for p in (self.run_dir / "samples").glob("*.png")) \
            if (self.run_dir / "samples").is_dir() else []
        total, finished = 0, ""
        if self.trainer is not None:
            state = self.trainer.reporter.state
            total = state.total
            text = state.summary()
            if self.result and self.result not in text:
                text += f"\n{self.result}"
            # Each line once: the end's sentence is the summary's, not repeated from the log.
            tail = [line for line in state.log if line not in text][-4:]
            if tail:
                text += "\n" + "\n".join(tail)
            outcome = self.outcome
            if not self.running and outcome is not None and outcome.lora and \
                    not outcome.stopped and outcome is not self.dismissed:
                from lora_for_dummies.train.finished import finished_block

                finished = finished_block(self.trainer.job, self.trainer.lora_dir)
        else:  # a separate accelerate process: its log is all we have
            status = "running" if self.running else f"ended (exit {self.process.returncode})"
            text = f"{self.run_dir.name}: step {len(losses)} on several GPUs — {status}"
            launcher = self.run_dir / "launcher.log"
            if not self.running and launcher.is_file():
                text += "\n" + "\n".join(launcher.read_text(errors="replace").splitlines()[-4:])
        return SessionView(self.running, text, losses, samples, self.result, total, finished)


SESSION = TrainingSession()


def stop_message(run_dir: Path, save: bool) -> str:
    """When a Stop takes effect: a run stops between steps, so say how long a step takes here
    (the median of the last ones logged), or that loading must finish first."""
    import json
    import statistics

    log = run_dir / "log.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines()[-5:] if log.is_file() else []
    seconds = [json.loads(line)["seconds"] for line in lines if '"seconds"' in line]
    saving = " and saving" if save else ""
    if not seconds:  # loading and caching check for a Stop between components and images
        return f"Stopping{saving} — within seconds, loading or not…"
    step = statistics.median(seconds)
    took = "under a second" if step < 1 else f"about {step:.0f} s"
    return f"Stopping{saving} after the current step — {took}, the time one step takes here…"


def run_folder_losses(run_dir: Path) -> list[float]:
    import json

    log = run_dir / "log.jsonl"
    if not log.is_file():
        return []
    return [json.loads(line)["loss"] for line in log.read_text(encoding="utf-8").splitlines()
            if '"loss"' in line]
