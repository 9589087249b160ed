"""Training on several GPUs: the webui process has CUDA initialised and cannot fork workers,
so the tab starts `accelerate launch -m lora_for_dummies train job.toml` as a separate process
and follows its `log.jsonl`; stopping writes `STOP` / `STOP_SAVE` into the run folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lora_for_dummies.config import save_toml
from lora_for_dummies.train.config import TrainJob

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def accelerate_command(job_file: Path, processes: int, cpu: bool = False,
                       resume: bool = False, overwrite: bool = False) -> list[str]:
    command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes",
               str(processes), "--num_machines", "1", "--mixed_precision", "no",
               "--dynamo_backend", "no"]
    if cpu:
        command.append("--cpu")
    else:
        command.append("--multi_gpu")
    command += ["-m", "lora_for_dummies", "train", str(job_file)]
    return command + (["--resume"] if resume else []) + (["--overwrite"] if overwrite else [])


def launch(job: TrainJob, processes: int, cpu: bool = False, resume: bool = False,
           overwrite: bool = False) -> tuple[subprocess.Popen, Path]:
    """Write the job into its run folder and start it under accelerate; returns the process
    and the run folder (whose log.jsonl reports progress)."""
    job.validate()
    job.make_paths_absolute()  # the child runs in the run folder: relative paths would break
    run_dir = job.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    job_file = run_dir / "job.toml"
    save_toml(job, job_file)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT)] + [p for p in env.get(
        "PYTHONPATH", "").split(os.pathsep) if p])
    log = open(run_dir / "launcher.log", "w", encoding="utf-8")  # noqa: SIM115 — owned by Popen
    process = subprocess.Popen(accelerate_command(job_file, processes, cpu, resume, overwrite),
                               cwd=str(run_dir), env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    return process, run_dir


def request_stop(run_dir: Path, save: bool) -> None:
    (Path(run_dir) / ("STOP_SAVE" if save else "STOP")).write_text("stop\n")
