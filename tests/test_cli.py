"""`python -m lora_for_dummies inspect` prints what the Models tab shows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lora_for_dummies", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_inspect_names_family_and_variant(tiny_models):
    out = _run("inspect", str(tiny_models["sd2v"]), str(tiny_models["sdxl"]))
    assert out.returncode == 0, out.stderr
    assert "Stable Diffusion 2.x" in out.stdout and "SD 2.x 768 v-prediction" in out.stdout
    assert "Stable Diffusion XL" in out.stdout and "SHA256" in out.stdout


def test_inspect_json(tiny_models):
    out = _run("inspect", "--json", "--no-hash", str(tiny_models["sd1_inpaint"]))
    info = json.loads(out.stdout)
    assert info["family"] == "sd1" and info["inpainting"] is True and info["sha256"] == ""


def test_inspect_bad_file_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"")
    out = _run("inspect", str(bad))
    assert out.returncode == 2
    assert out.stderr.strip() == "error: model.safetensors: file is empty (0 bytes); the " \
                                 "download or copy did not finish"
