"""Training on several GPUs: the webui process has CUDA initialised and cannot fork workers,
so the tab starts `accelerate launch -m lora_for_dummies train job.toml` as a separate process
and follows its `log.jsonl`; stopping writes `STOP` / `STOP_SAVE` into the run folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from lora_for_dummies.config import save_toml
from lora_for_dummies.train.config import TrainJob

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def accelerate_command(job_file: Path, processes: int, resume: bool = False,
                       overwrite: bool = False) -> list[str]:
    """`accelerate launch` of the CLI's `train`, one process per GPU. `--multi_gpu` is
    accelerate's multi-process launcher (torchrun): on a machine without CUDA the processes
    train on the CPU over gloo (the tests). Its `--cpu` flag would start a single process.
    The processes meet on a port free now: accelerate's fixed 29500 refuses to start while any
    other torchrun on the machine (another run, another tool) holds it."""
    command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes",
               str(processes), "--num_machines", "1", "--mixed_precision", "no",
               "--dynamo_backend", "no", "--multi_gpu", "--main_process_port", str(free_port())]
    command += ["-m", "lora_for_dummies", "train", str(job_file)]
    return command + (["--resume"] if resume else []) + (["--overwrite"] if overwrite else [])


def free_port() -> int:
    """A TCP port on this machine that nothing listens on (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch(job: TrainJob, processes: int, resume: bool = False, overwrite: bool = False
           ) -> tuple[subprocess.Popen, Path]:
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
    process = subprocess.Popen(accelerate_command(job_file, processes, resume, overwrite),
                               cwd=str(run_dir), env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    return process, run_dir


STOP_FILES = ("STOP", "STOP_SAVE")  # written into the run folder by `request_stop`


def request_stop(run_dir: Path, save: bool) -> None:
    (Path(run_dir) / ("STOP_SAVE" if save else "STOP")).write_text("stop\n")


def stop_requested(run_dir: Path) -> str | None:
    """What `request_stop` asked of a run: "save" (stop and save), "stop", or None."""
    if (Path(run_dir) / "STOP_SAVE").exists():
        return "save"
    return "stop" if (Path(run_dir) / "STOP").exists() else None


def clear_stop_requests(run_dir: Path) -> None:
    """A new start forgets the stop that ended the last one."""
    for name in STOP_FILES:
        (Path(run_dir) / name).unlink(missing_ok=True)
