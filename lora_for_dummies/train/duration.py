"""How long the run will take, measured from its first steps, and the warning when that is far
beyond what anyone starting it expects (a CPU run of hours), with the change that helps most."""

from __future__ import annotations

import statistics
from typing import Any

from lora_for_dummies import messages as msg
from lora_for_dummies.progress import format_seconds

MEASURED_AFTER = 3  # steps: the first one pays for warm-up (allocations, autotuning)
TOO_LONG_S = 2 * 3600  # longer than an evening's babysitting


def long_run_warning(step_seconds: list[float], steps_left: int, on_gpu: bool,
                     sample_every: int, checkpointing: str) -> str | None:
    """None, or one line: how long the rest takes at the measured pace, and what to change."""
    if len(step_seconds) < MEASURED_AFTER:
        return None
    pace = statistics.median(step_seconds[1:])
    left = pace * steps_left
    if left <= TOO_LONG_S:
        return None
    fits = max(1, int(TOO_LONG_S / pace))
    if not on_gpu:
        advice = (f"this runs on the CPU; train on a CUDA GPU (minutes there), or Stop and "
                  f"lower Steps to about {fits} to end within {format_seconds(TOO_LONG_S)}")
    elif checkpointing == "full":
        advice = ("gradient checkpointing 'full' recomputes every block; 'partial' is faster "
                  "where the memory allows")
    elif sample_every and sample_every < 50:
        advice = f"samples every {sample_every} steps take time too: sample less often"
    else:
        advice = f"Stop and lower Steps to about {fits} to end within " \
                 f"{format_seconds(TOO_LONG_S)}"
    return msg.SLOW_RUN.format(pace=pace, steps=steps_left, left=format_seconds(left),
                               advice=advice)


class RunPace:
    """Watches a run's first steps and warns once when the rest will take hours."""

    def __init__(self, job: Any, on_gpu: bool) -> None:
        self.job, self.on_gpu, self.seconds = job, on_gpu, []

    def step_took(self, seconds: float, step: int) -> str | None:
        self.seconds.append(seconds)
        if len(self.seconds) != MEASURED_AFTER:
            return None
        job = self.job
        return long_run_warning(self.seconds, job.training.steps - step, self.on_gpu,
                                job.samples.every if job.samples.enabled else 0,
                                job.training.gradient_checkpointing)
