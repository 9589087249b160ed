"""The Extract tab's handlers (standalone and webui stand-in) and the LoRA command line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from lora_fixtures import write_tuned

from lora_for_dummies.hosts.standalone import StandaloneHost
from lora_for_dummies.lora.format import load_lora
from lora_for_dummies.ui.app import standalone_app
from uitools import choices_of, find_block, handler_for

ROOT = Path(__file__).resolve().parent.parent



@pytest.fixture(scope="module")
def pair(tiny_models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pair")
    base = folder / "base.safetensors"
    shutil.copy(tiny_models["sd1"], base)
    write_tuned(base, folder / "tuned.safetensors")
    return base, folder / "tuned.safetensors"


def _walk(demo, models_dir: Path, lora_dir: Path, pair):
    refresh = handler_for(demo, find_block(demo, "lfd_extract_base"), None)
    for path in pair:
        shutil.copy(path, models_dir / path.name)
    assert {"base.safetensors", "tuned.safetensors"} <= set(choices_of(refresh()))
    run = handler_for(demo, find_block(demo, "lfd_extract_report"), "on_extract")
    outputs = list(run("base.safetensors", "tuned.safetensors", "my extract", 8, "fixed", 0.9, 0,
                       True, False, 0, "cpu", "fp16", False))
    status, rows = outputs[-1]
    assert "saved" in status and rows and rows[0][4] == 8, status
    assert (lora_dir / "my extract.safetensors").exists()
    assert json.loads((lora_dir / "my extract.json").read_text())["sd version"] == "SD1"
    lora_refresh = handler_for(demo, find_block(demo, "lfd_tools_lora"), None)
    assert "my extract.safetensors" in choices_of(lora_refresh())
    merge_refresh = handler_for(demo, find_block(demo, "lfd_tools_merge_list"), None)
    assert "my extract.safetensors" in choices_of(merge_refresh())
    status = find_block(demo, "lfd_tools_status")
    info = handler_for(demo, status, "info")("my extract.safetensors")
    assert '"base_model_version": "sd_v1"' in info
    message = handler_for(demo, status, "rescale")("my extract.safetensors", 0.5, "half", False)
    assert message.startswith("Saved half.safetensors")
    message = handler_for(demo, status, "resize")("my extract.safetensors", 2, "fixed", 0.9,
                                                  "small", False)
    assert "Mean relative error" in message
    message = handler_for(demo, status, "merge")(["my extract.safetensors", "half.safetensors"],
                                                 "0.5, 0.5", 0, "merged", False)
    assert message.startswith("Saved merged.safetensors")
    full, _ = load_lora(lora_dir / "my extract.safetensors")
    merged, _ = load_lora(lora_dir / "merged.safetensors")
    name = next(iter(full))
    assert torch.allclose(merged[name].delta(), full[name].delta() * 0.75, atol=2e-3)
    refused = handler_for(demo, status, "merge")([], "", 0, "x", False)
    assert refused.startswith("⚠")


def test_extract_tab_standalone(tmp_path, pair):
    host = StandaloneHost(tmp_path / "data")
    _walk(standalone_app(host), host.models_dir, host.lora_dir(), pair)


def test_extract_tab_in_webui_rescans_the_lora_list(webui_tab, pair):
    from modules import paths, shared

    tab, scans = webui_tab
    _walk(tab, Path(paths.models_path) / "Stable-diffusion", Path(shared.cmd_opts.lora_dir), pair)
    assert len(scans) == 4  # extract, rescale, resize, merge each re-scanned the webui's list
    assert ("begin", "Extracting my extract") in shared.state.history


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "lora_for_dummies", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_lora_cli(pair, tmp_path):
    base, tuned = pair
    out = _cli("extract", str(base), str(tuned), "--name", "cli", "--lora-dir", str(tmp_path),
               "--rank", "4", "--rank-mode", "frobenius", "--threshold", "0.95", "--report",
               str(tmp_path / "report.json"))
    assert out.returncode == 0, out.stderr
    assert "unet:" in out.stdout and "text_encoder:" in out.stdout
    assert json.loads((tmp_path / "report.json").read_text())["modules"]
    lora = str(tmp_path / "cli.safetensors")
    info = json.loads(_cli("lora-info", lora, "--json").stdout)
    assert info["parts"]["unet"] > 0 and info["parts"]["text_encoder"] > 0
    assert _cli("rescale", lora, "0.6", "--output", str(tmp_path / "r.safetensors")).returncode == 0
    out = _cli("resize", lora, "--rank", "2", "--output", str(tmp_path / "s.safetensors"))
    assert "mean relative error" in out.stdout
    out = _cli("merge", lora, str(tmp_path / "r.safetensors"), "--weights", "0.5", "0.5",
               "--output", str(tmp_path / "m.safetensors"))
    assert out.returncode == 0, out.stderr
    bad = _cli("extract", str(base), str(base), "--name", "x", "--lora-dir", str(tmp_path))
    assert bad.returncode == 2 and "same file" in bad.stderr


def test_the_device_choice_offers_only_what_this_machine_has(tmp_path):
    """Issue 23: no `cuda` to pick on a machine without a GPU (it could only fail at Extract);
    the help says the CPU extracts, and how long that takes."""
    from lora_for_dummies.environment import available_devices

    device = find_block(standalone_app(StandaloneHost(tmp_path / "data")), "lfd_extract_device")
    offered = choices_of({"choices": device.choices})
    assert offered == available_devices() and device.value == "cpu"
    if not torch.cuda.is_available():
        assert offered == ["cpu"] and "No CUDA GPU found" in device.info, device.info
    else:
        assert offered == ["cpu", "cuda"]
