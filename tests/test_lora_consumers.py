"""Every key of our files loads in the loaders people use: A1111 1.10's, ComfyUI's and Forge
Neo's rules (tests/lora_consumers.py, each with the file and commit it comes from) applied to
trained, extracted, resized and converted files, SD1 and SDXL, LoRA and LoCon — 0 unmatched."""

from __future__ import annotations

from pathlib import Path

import pytest
from lora_consumers import (
    a1111_unmatched,
    checkpoint_modules,
    comfy_accepted,
    forge_neo_loads,
)
from lora_fixtures import write_tuned
from train_fixtures import tiny_job

from lora_for_dummies.extract.run import ExtractSettings, extract_lora
from lora_for_dummies.lora import tools
from lora_for_dummies.lora.format import load_lora
from lora_for_dummies.lora.lowrank import RankRule
from lora_for_dummies.train.loop import Trainer


def _check(family: str, base: Path, modules: list[str]) -> None:
    base_modules = checkpoint_modules(base)
    assert modules
    assert a1111_unmatched(modules, family, base_modules) == []
    accepted = comfy_accepted(family, base, base_modules)
    unmatched = [m for m in modules if m not in accepted]
    assert unmatched == [], unmatched[:5]
    assert forge_neo_loads(len(unmatched), 3 * len(modules))  # down, up, alpha per module


@pytest.mark.parametrize("family", ["sd1", "sdxl"])
def test_trained_lora_with_text_encoder_and_conv(tiny_models, tmp_path, family):
    job = tiny_job(tiny_models[family], tmp_path, steps=1, samples={"enabled": False},
                   network={"rank": 4, "alpha": 4, "conv_rank": 2, "train_text_encoder": True})
    modules, _ = load_lora(Trainer(job, tmp_path / "Lora", device="cpu").run().lora)
    assert any(m.startswith("lora_te") for m in modules)
    assert any(m.down.dim() == 4 and m.down.shape[-1] > 1 for m in modules.values())  # LoCon
    _check(family, tiny_models[family], list(modules))


@pytest.mark.parametrize("family", ["sd1", "sdxl"])
def test_extracted_and_resized_locon(tiny_models, tmp_path, family):
    tuned = tmp_path / "tuned.safetensors"
    write_tuned(tiny_models[family], tuned, conv=True)
    extract_lora(tiny_models[family], tuned, tmp_path, "x",
                 ExtractSettings(rule=RankRule(rank=4), conv_rule=RankRule(rank=2)))
    modules, _ = load_lora(tmp_path / "x.safetensors")
    _check(family, tiny_models[family], list(modules))
    resized, _ = tools.resize(modules, RankRule(rank=2))
    _check(family, tiny_models[family], list(resized))


def test_converted_pt_lora(tiny_models, tmp_path):
    from test_lora_tools import CONFIGS, _cloneofsimo_pt

    from lora_for_dummies.lora.convert import convert_cloneofsimo

    _cloneofsimo_pt(tmp_path / "old.pt", "attn1 → attn2 → ff (newer diffusers)")
    modules, _ = convert_cloneofsimo(tmp_path / "old.pt", "sd1", CONFIGS)
    _check("sd1", tiny_models["sd1"], list(modules))


def test_the_rules_do_find_a_key_that_does_not_fit(tiny_models):
    """The rules are not vacuous: a name for a layer the base lacks is reported by each."""
    base_modules = checkpoint_modules(tiny_models["sdxl"])
    alien = ["lora_unet_input_blocks_99_1_transformer_blocks_0_attn1_to_q",
             "lora_te2_text_model_encoder_layers_77_self_attn_q_proj"]
    assert a1111_unmatched(alien, "sdxl", base_modules) == alien
    assert not set(alien) & comfy_accepted("sdxl", tiny_models["sdxl"], base_modules)
    assert not forge_neo_loads(2, 3)
