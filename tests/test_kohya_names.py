"""One naming function gives the kohya LoRA key for every module training or extraction uses."""

from __future__ import annotations

import pytest

from lora_for_dummies.checkpoints.kohya_names import kohya_name, lora_target_modules
from lora_for_dummies.checkpoints.models import build_model
from lora_for_dummies.checkpoints.synthetic import model_configs


def test_sd1_unet_names_are_diffusers_style():
    name = kohya_name("sd1", "unet", "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q")
    assert name == "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"


def test_sdxl_unet_names_are_sgm_style():
    config = model_configs("sdxl", tiny=False)["unet"]
    name = kohya_name("sdxl", "unet", "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q",
                      config)
    assert name == "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q"
    assert kohya_name("sdxl", "unet", "mid_block.attentions.0.proj_in", config) == \
        "lora_unet_middle_block_1_proj_in"
    assert kohya_name("sdxl", "unet", "up_blocks.0.attentions.2.proj_out", config) == \
        "lora_unet_output_blocks_2_1_proj_out"


def test_text_encoder_names():
    module = "text_model.encoder.layers.0.self_attn.q_proj"
    assert kohya_name("sd1", "text_encoder", module) == \
        "lora_te_text_model_encoder_layers_0_self_attn_q_proj"
    assert kohya_name("sdxl", "text_encoder", module).startswith("lora_te1_text_model_")
    # transformers 5 names the module without "text_model."; the key stays the same.
    assert kohya_name("sdxl", "text_encoder_2", "encoder.layers.0.mlp.fc1") == \
        "lora_te2_text_model_encoder_layers_0_mlp_fc1"


@pytest.mark.parametrize("family", ["sd1", "sd2", "sdxl"])
def test_every_target_gets_a_unique_name(family):
    configs = model_configs(family, tiny=False)
    names = set()
    counts = {}
    for component, config in configs.items():
        if component == "vae":
            continue
        model = build_model(component, config, empty=True)
        targets = lora_target_modules(model, component, include_conv=component == "unet")
        counts[component] = len(targets)
        names.update(kohya_name(family, component, t, configs["unet"]) for t in targets)
    assert len(names) == sum(counts.values())
    # Full-size module counts kohya's scripts also produce (attention-only + conv for LoCon).
    expected_text = {"sd1": 72, "sd2": 138, "sdxl": 72}
    assert counts["text_encoder"] == expected_text[family]
    if family == "sdxl":
        assert counts["text_encoder_2"] == 192
    unet = build_model("unet", configs["unet"], empty=True)
    attention_only = len(lora_target_modules(unet, "unet"))
    assert attention_only == {"sd1": 192, "sd2": 192, "sdxl": 722}[family]


@pytest.mark.parametrize("family", ["sd1", "sd2", "sdxl"])
def test_targets_from_file_keys_equal_targets_from_the_model(tiny_models, family):
    """Extraction reads module names from the file's keys (no model built); they must be the
    very targets training builds from the model."""
    from lora_for_dummies.checkpoints.keymap_unet import unet_ldm_to_module, unet_module_to_ldm
    from lora_for_dummies.checkpoints.models import model_keys, resolve_configs
    from lora_for_dummies.checkpoints.reader import CheckpointFile
    from lora_for_dummies.lora.targets import extraction_targets

    name = {"sd1": "sd1", "sd2": "sd2v", "sdxl": "sdxl"}[family]
    with CheckpointFile(tiny_models[name]) as file:
        configs = resolve_configs(file, family)
        keys = file.keys()
    for conv in (False, True):
        from_model = extraction_targets(family, configs, True, conv)
        from_keys = extraction_targets(family, configs, True, conv, keys=keys)
        assert sorted(from_model, key=lambda t: t.name) == sorted(from_keys,
                                                                  key=lambda t: t.name)
    for key in model_keys("unet", configs["unet"]):  # the inverse map really is the inverse
        assert unet_ldm_to_module(unet_module_to_ldm(key, configs["unet"]), configs["unet"]) == key


def test_module_names_without_a_parameter_suffix():
    config = model_configs("sdxl", tiny=False)["unet"]
    assert kohya_name("sdxl", "unet", "down_blocks.0.downsamplers.0.conv", config) == \
        "lora_unet_input_blocks_3_0_op"
    assert kohya_name("sdxl", "unet", "down_blocks.1.resnets.0.conv1", config) == \
        "lora_unet_input_blocks_4_0_in_layers_2"
    assert kohya_name("sdxl", "unet", "up_blocks.0.upsamplers.0.conv", config) == \
        "lora_unet_output_blocks_2_2_conv"
