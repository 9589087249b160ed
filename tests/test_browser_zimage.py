"""Z-Image in a real browser (headless Chromium) on `serve --demo` with the tiny Z-Image pair in
its workspace: where the libraries train Z-Image (Forge Neo's, the newest), picking the Z-Image
model moves the Wizard to Z-Image and its tiers, a run started from the page trains and passes
its self-check, and the Models tab says where the LoRA loads (Forge Neo, ComfyUI, diffusers —
not A1111 or Forge); where they do not (A1111's, Forge's), the family choice says why."""

from __future__ import annotations

from pathlib import Path

from browser import demo_page

from lora_for_dummies.families import get_family
from lora_for_dummies.families.zimage.demo import DEMO_MODEL

ROOT = Path(__file__).resolve().parent.parent


def _checked(ui, elem_id: str) -> str:
    return ui.page.locator(f"#{elem_id} input:checked").first.input_value()


def test_zimage_in_the_train_and_models_tabs(tmp_path):
    family = get_family("zimage")
    why_not = family.training_unavailable()
    if not why_not:  # the demo's tiny Z-Image pair, before the app starts (it keeps it)
        family.write_demo(tmp_path / "workspace" / "models")
    with demo_page(tmp_path, ROOT) as (ui, data):
        ui.tab("Train")
        ui.open_section("lfd_train_section_wizard")
        choices = ui.text("lfd_wizard_family")
        if why_not:
            assert "zimage" not in choices and why_not in choices, choices
            return
        ui.choose("lfd_train_base", DEMO_MODEL.split("/")[1].split(" (")[0])
        ui.wait_text("lfd_train_base_line", "Detected: Z-Image")
        ui.wait_for(lambda: _checked(ui, "lfd_wizard_family") == "zimage", "Z-Image chosen",
                    shows=lambda: _checked(ui, "lfd_wizard_family"))
        ui.choose("lfd_train_dataset", "demo dog")
        ui.wait_text("lfd_train_images_line", "6 images")
        ui.setting("training_steps", 2)
        ui.setting("samples_steps", 2)
        ui.setting("save_name", "demo zimage")
        ui.click("lfd_train_start")
        status = ui.wait_progress("lfd_train_status", "done: 2 steps")
        assert "self-check passed" in status and "Forge Neo ✓ ComfyUI ✓" in status, status
        assert (data / "Lora" / "demo zimage.safetensors").is_file()
        ui.tab("Models")
        ui.click("lfd_models_lora_refresh")
        ui.wait_option("lfd_models_lora", "demo zimage.safetensors")
        ui.choose("lfd_models_lora", "demo zimage.safetensors")
        described = ui.wait_text("lfd_models_lora_details", "Z-Image (zimage)")
        assert "Forge Neo, ComfyUI, diffusers" in described and "A1111" not in described, \
            described
        ui.tab("Train")  # the Wizard's Z-Image tiers (after the run: they set 1024 px, bf16)
        ui.open_section("lfd_train_section_wizard")
        ui.fill("lfd_wizard_vram", 16)
        ui.click("lfd_wizard_run")
        advice = ui.wait_text("lfd_wizard_text", "Z-Image 16 GB tier")
        assert "estimate" in advice and "fp8 base" in advice, advice
