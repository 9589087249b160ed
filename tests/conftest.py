"""Shared fixtures: tiny SD1 / SD2-v / SDXL models built from config, written as real files."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def _one_thread(tmp_path_factory: pytest.TempPathFactory) -> None:
    import torch

    # On 2 shared cores, 2 threads are many times slower under load.
    torch.set_num_threads(1)
    os.environ["LFD_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny models as single-file checkpoints with original key names.

    Keys: sd1, sd2v (v-prediction, in modelspec metadata), sdxl (.safetensors, fp32);
    sd1_ckpt (.ckpt, fp16, with EMA), sd1_inpaint, sd1_novae.
    """
    import torch

    from lora_for_dummies.checkpoints.synthetic import write_random_checkpoint

    folder = tmp_path_factory.mktemp("models")
    return {
        "sd1": write_random_checkpoint(folder / "tiny sd1 ✓.safetensors", "sd1", seed=1),
        "sd2v": write_random_checkpoint(folder / "tiny-sd2-768-v.safetensors", "sd2", seed=2,
                                        prediction="v"),
        "sdxl": write_random_checkpoint(folder / "tiny-sdxl.safetensors", "sdxl", seed=3),
        "sd1_ckpt": write_random_checkpoint(folder / "tiny-sd1-ema.ckpt", "sd1", seed=4,
                                            dtype=torch.float16, ema=True),
        "sd1_inpaint": write_random_checkpoint(folder / "tiny-sd1-inpainting.safetensors", "sd1",
                                               seed=5, inpainting=True),
        "sd1_novae": write_random_checkpoint(folder / "tiny-sd1-novae.safetensors", "sd1",
                                             seed=6, vae=False),
    }


@pytest.fixture()
def webui_standin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The small stand-in of the webui's `modules` package, fresh for each test."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "webui_standin"))
    for name in [m for m in sys.modules  # Forge Neo's packages too (forge_neo_standin)
                 if m.split(".")[0] in ("modules", "modules_forge", "backend")]:
        monkeypatch.delitem(sys.modules, name)
    import modules.shared

    modules.shared.reset(tmp_path)
    return modules


@pytest.fixture()
def forge_neo_standin(webui_standin, monkeypatch: pytest.MonkeyPatch):
    """The webui stand-in with Forge Neo's differences on top (webui_standin_neo/README.md)."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "webui_standin_neo"))
    import backend.memory_management

    backend.memory_management.events.clear()
    for removed in ("modules.interrogate", "modules.deepbooru"):  # Neo has no interrogators
        monkeypatch.setitem(sys.modules, removed, None)
    return webui_standin


@pytest.fixture()
def webui_tab(webui_standin, monkeypatch: pytest.MonkeyPatch):
    """The extension loaded as the webui loads it; returns (our tab's Blocks, Lora re-scans).

    The built-in Lora extension's `networks` module is stood in by one that counts re-scans.
    """
    import runpy

    scans: list[int] = []
    networks = type(sys)("networks")
    networks.list_available_networks = lambda: scans.append(1)
    monkeypatch.setitem(sys.modules, "networks", networks)
    runpy.run_path(str(ROOT / "scripts" / "lora_for_dummies.py"))
    from modules import script_callbacks

    [(tab, _, _)] = script_callbacks.ui_tabs_callback()
    return tab, scans


@pytest.fixture()
def fill_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU's order on this CPU (`train.residency`): every latent is encoded before step 1."""
    from lora_for_dummies.train import residency

    monkeypatch.setattr(residency, "fills_during_training", lambda device: False)
