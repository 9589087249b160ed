"""Several processes through `accelerate launch` (on the CPU here: two processes, gloo)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from train_fixtures import tiny_job

from lora_for_dummies.config import save_toml
from lora_for_dummies.hosts.standalone import StandaloneHost
from lora_for_dummies.lora.format import load_lora
from lora_for_dummies.train.launch import accelerate_command, launch


def test_command_for_gpus(tmp_path):
    command = accelerate_command(tmp_path / "job.toml", 4)
    assert command[1:3] == ["-m", "accelerate.commands.launch"]
    assert "--multi_gpu" in command and command[-4:] == ["-m", "lora_for_dummies", "train",
                                                         str(tmp_path / "job.toml")]
    # not accelerate's fixed 29500: a port nothing holds now, so a second run can start
    port = int(command[command.index("--main_process_port") + 1])
    with socket.socket() as listener:  # another torchrun holds the default port
        with contextlib.suppress(OSError):  # or something already does
            listener.bind(("127.0.0.1", 29500))
            listener.listen()
        other = int(accelerate_command(tmp_path / "job.toml", 2)[
            command.index("--main_process_port") + 1])
    assert 1024 <= port < 65536 and other != 29500


def test_two_processes_from_a_relative_data_dir(tiny_models, tmp_path, monkeypatch):
    """The standalone default data dir is relative (`lfd_data`) while the child runs in the run
    folder: the launcher makes every path absolute first."""
    monkeypatch.chdir(tmp_path)
    host = StandaloneHost(Path("lfd_data"))  # the standalone default; its folders: absolute
    assert all(p.is_absolute() for p in (host.lora_dir(), host.runs_dir(), host.models_dir))
    Path("models").mkdir()
    shutil.copy(tiny_models["sd1"], "models/tiny.safetensors")
    job = tiny_job(Path("models/tiny.safetensors"), Path("lfd_data"), steps=2,
                   samples={"every": 0})
    assert not Path(job.concepts[0].folder).is_absolute() and not Path(job.runs_dir).is_absolute()
    process, run_dir = launch(job, processes=2)
    assert process.wait(timeout=600) == 0, (run_dir / "launcher.log").read_text()[-3000:]
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [1, 2]  # only the main process logs
    assert "rank 1 of 2" in (run_dir / "launcher.log").read_text()  # two processes did train
    modules, metadata = load_lora(tmp_path / "lfd_data" / "Lora" / "tiny.safetensors")
    assert modules and metadata["ss_steps"] == "2"


def test_every_rank_ends_with_the_same_unet_and_text_encoder_lora(tiny_models, tmp_path):
    """Two processes, each on its own batches, training the UNet and the text encoder with
    gradient accumulation and clip skip 2 (the last text layer's LoRA gets no gradient):
    averaged gradients leave both ranks with identical weights."""
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=3, samples={"every": 0},
                   network={"train_text_encoder": True},
                   training={"gradient_accumulation": 2, "batch_size": 1},
                   model={"base": str(tiny_models["sd1"]), "clip_skip": 2},
                   save={"every": 0})
    job.make_paths_absolute()
    job_file, out = tmp_path / "job.toml", tmp_path / "ranks"
    out.mkdir()
    save_toml(job, job_file)
    command = accelerate_command(job_file, 2)
    command = command[:command.index("-m", 3)] + [str(Path(__file__).with_name(
        "rank_weights.py")), str(job_file), str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    losses = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert len(losses[0]) == 3 and losses[0] != losses[1]  # each rank saw its own batches
    first, second = (load_file(str(out / f"rank{r}.safetensors")) for r in (0, 1))
    assert first.keys() == second.keys()
    assert any(k.startswith("unet.") for k in first) and any(
        k.startswith("text_encoder.") for k in first)
    trained_text = [k for k in first if k.startswith("text_encoder.") and ".lora_B." in k]
    assert any(first[k].abs().sum() > 0 for k in trained_text)  # the text encoder did train
    different = [k for k in first if not torch.equal(first[k], second[k])]
    assert not different, different[:5]
