"""Every key of our files loads in the loaders people use: A1111 1.10's, ComfyUI's and Forge
Neo's rules (lora_for_dummies/lora/consumers.py, each with the file and commit it comes from)
applied to trained, extracted, resized and converted files, SD1 and SDXL, LoRA and LoCon — 0
unmatched; and the self-check after training says so per host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lora_consumers import diffusers_lora_names
from lora_files import CASES, WRITERS

from lora_for_dummies.checkpoints.models import resolve_configs
from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.lora.consumers import (
    a1111_unmatched,
    checkpoint_modules,
    comfy_accepted,
    forge_loads,
    forge_neo_loads,
    unmatched_per_host,
)
from lora_for_dummies.lora.format import load_lora


def _unet_config(base: Path, family: str) -> dict:
    with CheckpointFile(base) as ckpt:
        return resolve_configs(ckpt, family)["unet"]


def _check(family: str, base: Path, modules: list[str]) -> None:
    assert modules
    hosts = unmatched_per_host(modules, family, base, _unet_config(base, family))
    assert hosts == {"A1111": [], "Forge": [], "Forge Neo": [], "ComfyUI": []}, \
        {host: names[:3] for host, names in hosts.items()}


@pytest.mark.parametrize("family", ["sd1", "sdxl"])
def test_comfy_diffusers_names_match_diffusers_converter(tiny_models, family):
    """The core stands in for comfy.utils.unet_to_diffusers with our own map: the names it
    accepts for diffusers-style keys are exactly those diffusers' converter gives."""
    base = tiny_models[family]
    base_modules = checkpoint_modules(base)
    ours = comfy_accepted(family, base_modules, _unet_config(base, family))
    assert diffusers_lora_names(base) <= ours


@pytest.mark.parametrize("family", ["sd1", "sdxl"])
def test_trained_lora_with_text_encoder_and_conv(tiny_models, tmp_path, family):
    path = WRITERS["trained"](tiny_models[family], tmp_path)
    modules, _ = load_lora(path)
    assert any(m.startswith("lora_te") for m in modules)
    report = json.loads((path.parent / "tiny.selfcheck.json").read_text(encoding="utf-8"))
    assert report["passed"] and report["hosts"] == {"A1111": 0, "Forge": 0, "Forge Neo": 0,
                                                  "ComfyUI": 0}
    assert any(m.down.dim() == 4 and m.down.shape[-1] > 1 for m in modules.values())  # LoCon
    _check(family, tiny_models[family], list(modules))


WRITTEN = [case for case in CASES if case[1] != "trained"]  # trained: the test above


@pytest.mark.parametrize(("family", "writer"), WRITTEN, ids=[f"{f}-{w}" for f, w in WRITTEN])
def test_extracted_resized_and_converted(tiny_models, tmp_path, family, writer):
    """The same files test_diffusers_consumer.py loads with diffusers (one table)."""
    path = WRITERS[writer](tiny_models[family], tmp_path)
    _check(family, tiny_models[family], list(load_lora(path)[0]))


def test_the_rules_do_find_a_key_that_does_not_fit(tiny_models):
    """The rules are not vacuous: a name for a layer the base lacks is reported by each."""
    base_modules = checkpoint_modules(tiny_models["sdxl"])
    alien = ["lora_unet_input_blocks_99_1_transformer_blocks_0_attn1_to_q",
             "lora_te2_text_model_encoder_layers_77_self_attn_q_proj"]
    assert a1111_unmatched(alien, "sdxl", base_modules) == alien
    config = _unet_config(tiny_models["sdxl"], "sdxl")
    assert not set(alien) & comfy_accepted("sdxl", base_modules, config)
    assert not forge_neo_loads(2, 3)
    assert forge_loads(12) and not forge_loads(13)  # Forge: more than 12 keys skip the file
