"""How long a run will take before it starts: one rule for the Dataset tab's pre-flight and the
Train tab's guided path, so the two never disagree (issue 23: the pre-flight said 800 steps in
6 minutes on no named hardware while the Train tab sized a 100-step CPU run).

The steps are the guided path's for that many images on this device; the seconds per step come
from what was measured (on a CPU) or estimated (on a GPU, until `bench/gpu_check.sh` measures
it), and the line says which.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from lora_for_dummies.families import get_family
from lora_for_dummies.progress import format_seconds

# A whole run's seconds per step at 512 px, batch 1, fp32 — loading, samples, saves and the
# self-check included — measured on this project's 2-core CPU (docs/performance.md): the demo's
# tiny model (1.39 M UNet parameters) 100 steps in 3.5–3.8 min, i.e. about 2.2 s; a full-size
# SD 1.5 UNet (860 M) about 10 s a step plus the same overheads. Between and beyond them the
# time follows the UNet's size.
CPU_MEASURED = ((1.39e6, 2.2), (860e6, 12.0))
# Below 512 px a step does not shrink with the pixels for ever: the demo's model trained 30
# steps at 64 px in 14.5 s and at 256 px in 21.3 s (whole runs, 2026-12-08, same CPU), i.e.
# about 5 s of loading and self-check and at least 0.3 s a step whatever the size.
CPU_RUN_OVERHEAD_S = 5.0
CPU_STEP_FLOOR_S = 0.3
# A 12 GB consumer GPU at the family's own resolution (LoRA, fp16): each family's estimate
# (`Family.gpu_seconds_per_step`), not measured.


@dataclass
class RunEstimate:
    steps: int
    seconds: float
    device: str  # "this computer's CPU" or the GPU's name
    measured: bool  # the seconds per step come from a measurement

    def line(self) -> str:
        how = "from measured steps" if self.measured else "an estimate, not measured yet"
        return (f"about {self.steps} steps on {self.device}: roughly "
                f"{format_seconds(self.seconds)} ({how})")


def unet_parameters(checkpoint: str | Path) -> float:
    """The UNet's parameter count, read from the file's header (no weights loaded)."""
    from lora_for_dummies.checkpoints.reader import CheckpointFile

    with CheckpointFile(checkpoint) as file:
        return float(sum(math.prod(file.shape(key)) for key in file.keys()
                         if key.startswith("model.diffusion_model.")))


def cpu_seconds_per_step(unet_params: float, resolution: int, batch_size: int) -> float:
    (small, small_s), (large, large_s) = CPU_MEASURED
    per_param = (large_s - small_s) / (large - small)
    at_512 = max(small_s, small_s + (unet_params - small) * per_param)
    return max(CPU_STEP_FLOOR_S, at_512 * (resolution / 512) ** 2 * batch_size)


def estimate_run(image_count: int, family: str, vram_gb: float = 0.0, gpu: str = "",
                 unet_params: float | None = None, subject: str = "character") -> RunEstimate:
    """The run the guided path makes for `image_count` images on this device (its steps,
    resolution and batch, from `guided_job` itself) and how long it takes."""
    from lora_for_dummies.train.config import TrainJob
    from lora_for_dummies.train.guided import GuidedInput, guided_job, subject_for

    given = GuidedInput(base=Path("base.safetensors"), family=family,
                        subject=subject_for(subject), concept_folder=Path("images"), token="",
                        image_count=max(image_count, 1), name="estimate", vram_gb=vram_gb)
    job, _ = guided_job(TrainJob(), given)
    return estimate_steps(job.training.steps, job.training.resolution, job.training.batch_size,
                          family, vram_gb, gpu, unet_params)


def estimate_steps(steps: int, resolution: int, batch: int, family: str, vram_gb: float = 0.0,
                   gpu: str = "", unet_params: float | None = None) -> RunEstimate:
    """How long `steps` steps at `resolution` px and `batch` take on this device (the form's
    own numbers once the user changed the guided path's)."""
    steps, resolution, batch = max(int(steps), 0), max(int(resolution), 8), max(int(batch), 1)
    spec = get_family(family)
    params = unet_params if unet_params else spec.full_size_unet_parameters
    if vram_gb <= 0:
        seconds = cpu_seconds_per_step(params, resolution, batch)
        # (the 512 px figures hold these 5 s already: 2 % of a 100-step run, left so)
        return RunEstimate(steps, CPU_RUN_OVERHEAD_S + steps * seconds, "this computer's CPU",
                           True)
    native = spec.native_resolution
    seconds = spec.gpu_seconds_per_step * (resolution / native) ** 2 * batch
    return RunEstimate(steps, steps * seconds, gpu or f"a {vram_gb:.0f} GB GPU", False)
