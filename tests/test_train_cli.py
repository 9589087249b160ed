"""`python -m lora_for_dummies train job.toml --set …`, the LR curve, and TOML round trips."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from train_fixtures import tiny_job

from lora_for_dummies.config import load_toml, save_toml
from lora_for_dummies.train.config import TrainJob

ROOT = Path(__file__).resolve().parent.parent


def test_job_toml_round_trip(tiny_models, tmp_path):
    job = tiny_job(tiny_models["sd1"], tmp_path)
    save_toml(job, tmp_path / "job.toml")
    assert load_toml(TrainJob, tmp_path / "job.toml") == job


def test_train_from_the_command_line_with_overrides(tiny_models, tmp_path):
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=10)
    save_toml(job, tmp_path / "job.toml")
    out = subprocess.run([sys.executable, "-m", "lora_for_dummies", "train",
                          str(tmp_path / "job.toml"), "--set", "training.steps=2",
                          "--set", "save.name=\"from cli\""], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "done: 2 steps" in out.stdout
    assert (tmp_path / "Lora" / "from cli.safetensors").exists()
    saved = load_toml(TrainJob, tmp_path / "runs" / "from cli" / "config.toml")
    assert saved.training.steps == 2  # the run folder holds the whole job, reloadable
    curve = subprocess.run([sys.executable, "-m", "lora_for_dummies", "lr-curve",
                            str(tmp_path / "job.toml")], cwd=ROOT, capture_output=True,
                           text=True, timeout=300)
    assert curve.returncode == 0 and len(curve.stdout.splitlines()) == 10
    bad = subprocess.run([sys.executable, "-m", "lora_for_dummies", "train",
                          str(tmp_path / "job.toml"), "--set", "training.stpes=2"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "unknown setting training.stpes" in bad.stderr
    # "which step is best?" from the command line: the grid, then pick a cell
    cli = [sys.executable, "-m", "lora_for_dummies", "best-step", "from cli", "--runs-dir",
           str(tmp_path / "runs"), "--strengths", "0.5,1", "--cfg", "4"]
    grid = subprocess.run(cli, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert grid.returncode == 0, grid.stderr[-2000:]
    assert Path(grid.stdout.strip().splitlines()[-1]).name == "grid.png"
    picked = subprocess.run(cli + ["--pick", "2:0.5"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert picked.returncode == 0 and "strength 0.5" in picked.stdout, picked.stderr[-2000:]
    missing = subprocess.run(cli + ["--pick", "9:1"], cwd=ROOT, capture_output=True, text=True,
                             timeout=300)
    assert missing.returncode == 2 and "no cell 9:1" in missing.stderr


def test_sigkill_mid_run_then_resume(tiny_models, tmp_path):
    import json
    import signal
    import time

    from lora_for_dummies.train.loop import Trainer

    job = tiny_job(tiny_models["sd1"], tmp_path, steps=60, samples={"every": 0})
    save_toml(job, tmp_path / "job.toml")
    process = subprocess.Popen([sys.executable, "-m", "lora_for_dummies", "train",
                                str(tmp_path / "job.toml")], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = tmp_path / "runs" / "tiny" / "log.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline:
        if log.exists() and '"saved"' in log.read_text():
            break
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    saved_at = max(r["step"] for r in records if "saved" in r)
    assert saved_at < 60
    resumed = Trainer(tiny_job(tiny_models["sd1"], tmp_path, steps=saved_at + 2,
                               samples={"every": 0}), tmp_path / "Lora").run(resume=True)
    assert resumed.step == saved_at + 2 and len(resumed.losses) == 2


def test_an_error_mid_run_gets_its_own_line_after_the_bar(tiny_models, tmp_path):
    """The bar is on stderr when the data turns out unusable (after the run started): the
    error starts a line of its own, and nothing follows it."""
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=2)
    for image in Path(job.concepts[0].folder).glob("*.png"):
        image.write_bytes(b"not a picture")
    save_toml(job, tmp_path / "job.toml")
    out = subprocess.run([sys.executable, "-m", "lora_for_dummies", "train",
                          str(tmp_path / "job.toml")], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 2, out.stderr[-2000:]
    lines = out.stderr.rstrip("\n").split("\n")
    assert lines[-1].startswith("error: ") and "Traceback" not in out.stderr, out.stderr
    assert any("step" in line for line in lines[:-1])  # the bar was there, on its own line
