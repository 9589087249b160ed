"""Extraction between two Flux transformers: the pairs are kohya's default targets, and the
written file (lora_unet_<BFL module> keys, Flux metadata) reproduces the change under the
ComfyUI / Forge Neo rule."""

from __future__ import annotations

import pytest
from safetensors import safe_open
from safetensors.torch import load_file

from lora_for_dummies.errors import UserError
from lora_for_dummies.extract.run import ExtractSettings
from lora_for_dummies.families.flux.architecture import variant_config
from lora_for_dummies.families.flux.consumers import comfy_apply
from lora_for_dummies.families.flux.extract import extract_flux_lora
from lora_for_dummies.families.flux.keys import extraction_pairs, flux_targets
from lora_for_dummies.families.flux.layout import recognise_flux
from lora_for_dummies.families.flux.synthetic import write_flux_transformer, write_tuned_pair
from lora_for_dummies.lora.lowrank import RankRule


def test_pairs_follow_each_files_prefix_and_refuse_another_model(tmp_path):
    base, tuned, _ = write_tuned_pair(tmp_path, tuned_prefix="model.diffusion_model.")
    pairs = extraction_pairs(recognise_flux(base), recognise_flux(tuned))
    assert [p.name for p in pairs] == [t.name for t in flux_targets(variant_config("dev", True))]
    first = pairs[0]
    assert first.tuned_key == "model.diffusion_model." + first.base_key
    schnell = write_flux_transformer(tmp_path / "schnell.safetensors", "schnell")
    with pytest.raises(UserError, match="same model"):
        extraction_pairs(recognise_flux(base), recognise_flux(schnell))


def test_extracted_file_reproduces_the_change(tmp_path):
    base, tuned, changes = write_tuned_pair(tmp_path, tuned_prefix="model.diffusion_model.")
    settings = ExtractSettings(rule=RankRule(rank=64, exact=True), save_dtype="fp32")
    report = extract_flux_lora(base, tuned, tmp_path / "Lora", "flux-extract", settings)
    path = tmp_path / "Lora" / "flux-extract.safetensors"
    assert report.output == str(path) and report.parts["transformer"]["written"] == len(changes)
    lora = load_file(str(path))
    assert {k.rsplit(".", 2)[0] if k.endswith("weight") else k.rsplit(".", 1)[0]
            for k in lora} == set(changes)
    with safe_open(str(path), "pt") as file:
        metadata = file.metadata()
    assert metadata["ss_base_model_version"] == "flux1"
    assert metadata["modelspec.architecture"] == "flux-1-dev/lora"
    base_state = load_file(str(base))
    patched, unmatched = comfy_apply(base_state, lora, strength=1.0)
    assert unmatched == []
    for target in flux_targets(variant_config("dev", True)):
        got = patched[target.key] - base_state[target.key]
        expected = changes[target.name]
        assert float((got - expected).norm() / expected.norm()) < 1e-4, target.name
