"""Full-size SD1.5 architecture (random weights): `inspect` and loading. Slow: `-m slow`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_inspect_full_size_sd15(tmp_path):
    import torch

    from lora_for_dummies.checkpoints.detect import inspect_checkpoint
    from lora_for_dummies.checkpoints.synthetic import write_random_checkpoint

    path = write_random_checkpoint(tmp_path / "sd15-random.safetensors", "sd1", tiny=False,
                                   dtype=torch.float16)
    info = inspect_checkpoint(path)
    assert (info.family, info.variant, info.dtype) == ("sd1", "SD 1.x", "float16")
    assert 859e6 < info.parameters["unet"] < 860e6  # SD1.5's UNet: 859.52 M parameters
    assert 123e6 < info.parameters["text_encoder"] < 124e6
    assert 83e6 < info.parameters["vae"] < 84e6
    out = subprocess.run([sys.executable, "-m", "lora_for_dummies", "inspect", str(path)],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    assert "Stable Diffusion 1.x" in out.stdout and "unet 859.5M" in out.stdout
    from lora_for_dummies.checkpoints.models import load_models

    loaded = load_models(path, components=["unet"], dtype=torch.float16)
    assert sum(p.numel() for p in loaded.models["unet"].parameters()) == info.parameters["unet"]
