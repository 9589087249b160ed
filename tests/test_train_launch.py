"""Several processes through `accelerate launch` (on the CPU here: two processes, gloo)."""

from __future__ import annotations

import json

from train_fixtures import tiny_job

from lora_for_dummies.lora.format import load_lora
from lora_for_dummies.train.launch import accelerate_command, launch


def test_command_for_gpus(tmp_path):
    command = accelerate_command(tmp_path / "job.toml", 4)
    assert command[1:3] == ["-m", "accelerate.commands.launch"]
    assert "--multi_gpu" in command and command[-4:] == ["-m", "lora_for_dummies", "train",
                                                         str(tmp_path / "job.toml")]


def test_two_processes_on_the_cpu(tiny_models, tmp_path):
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=2, samples={"every": 0})
    process, run_dir = launch(job, processes=2, cpu=True)
    assert process.wait(timeout=600) == 0, (run_dir / "launcher.log").read_text()[-3000:]
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [1, 2]  # only the main process logs
    modules, metadata = load_lora(tmp_path / "Lora" / "tiny.safetensors")
    assert modules and metadata["ss_steps"] == "2"
