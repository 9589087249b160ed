"""The Train tab's *Kind of LoRA* in a real browser (headless Chromium) on `serve --demo`: the
choice and its help are there under Network, a LoKr run started from the page trains, passes
its self-check and lands in the Lora folder in LyCORIS' layout, the Models tab says what the
file is and where it loads, and the choice survives a refresh. Screenshots of the Network
section and the LoRA's description to LFD_SCREENSHOTS when that is set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser import demo_page
from safetensors import safe_open

ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ["LFD_SCREENSHOTS"]) if os.environ.get("LFD_SCREENSHOTS") else None


@pytest.fixture()
def demo(tmp_path):
    with demo_page(tmp_path, ROOT) as opened:
        yield opened


def test_train_a_lokr_from_the_train_tab(demo):
    ui, data = demo
    ui.tab("Train")
    ui.choose("lfd_train_dataset", "demo dog")
    ui.wait_text("lfd_train_images_line", "6 images")
    ui.open_section("lfd_train_section_network")
    assert ui.value("lfd_train_network_kind") == "lora"  # the default, for everyone
    assert ui.options("lfd_train_network_kind") == ["lora", "dora", "loha", "lokr", "full"]
    help_text = ui.text("lfd_train_network_kind")
    assert "Kronecker product, the smallest files" in help_text, help_text
    assert "diffusers loads lora only" in help_text, help_text
    ui.choose("lfd_train_network_kind", "lokr")
    ui.wait_for(lambda: ui.value("lfd_train_network_kind") == "lokr", "lokr chosen")
    if SHOTS is not None:
        ui.screenshot(SHOTS / "train_kind.png", "lfd_train_section_network")
    ui.setting("training_steps", 4)
    ui.setting("save_name", "demo lokr")
    ui.click("lfd_train_start")
    status = ui.wait_progress("lfd_train_status", "done: 4 steps")
    assert "self-check passed" in status, status
    path = data / "Lora" / "demo lokr.safetensors"
    with safe_open(str(path), "pt") as file:
        keys = list(file.keys())
        metadata = file.metadata()
    assert any(k.endswith(".lokr_w1") for k in keys) and not any("lora_down" in k for k in keys)
    assert metadata["ss_network_module"] == "lycoris.kohya"
    ui.tab("Models")  # what the file is, where it loads
    ui.click("lfd_models_lora_refresh")
    ui.wait_option("lfd_models_lora", "demo lokr.safetensors")
    ui.choose("lfd_models_lora", "demo lokr.safetensors")
    described = ui.wait_text("lfd_models_lora_details", "LoKr (")
    assert "A1111, Forge, Forge Neo, ComfyUI; not diffusers" in described, described
    if SHOTS is not None:
        ui.screenshot(SHOTS / "models_lora.png", "lfd_models_lora_details")
    ui.reload("Models")  # the page comes back where it was, and the form survives a refresh,
    ui.tab("Train")  # the kind with it
    ui.open_section("lfd_train_section_network")
    ui.wait_for(lambda: ui.value("lfd_train_network_kind") == "lokr", "lokr after the refresh",
                shows=lambda: ui.value("lfd_train_network_kind"))
