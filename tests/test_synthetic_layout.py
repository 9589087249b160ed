"""The synthetic checkpoints have the text-encoder layout of real files: SDXL's OpenCLIP
ViT-bigG holds blocks 0–31 and nothing past them (kohya's loader refuses a file with a 33rd),
SD2's ViT-H 24 blocks of which diffusers builds 23 (the last is unused)."""

from __future__ import annotations

import re

import pytest

from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.checkpoints.synthetic import model_configs
from lora_for_dummies.families import bundled_config, get_family

BLOCK = re.compile(r"transformer\.resblocks\.(\d+)\.")


def _blocks(path, prefix: str) -> set[int]:
    with CheckpointFile(path) as ckpt:
        return {int(m.group(1)) for k in ckpt.keys() if k.startswith(prefix)
                and (m := BLOCK.search(k[len(prefix):]))}


@pytest.mark.parametrize(("name", "family", "unused"), [("sdxl", "sdxl", 0), ("sd2v", "sd2", 1)])
def test_openclip_blocks_as_in_real_files(tiny_models, name, family, unused):
    spec = next(te for te in get_family(family).text_encoders if te.layout == "openclip")
    layers = model_configs(family, True, False)[spec.name]["num_hidden_layers"]
    assert _blocks(tiny_models[name], spec.prefix) == set(range(layers + unused))
    with CheckpointFile(tiny_models[name]) as ckpt:
        assert spec.prefix + "logit_scale" in ckpt and spec.prefix + "text_projection" in ckpt


def test_full_size_configs_give_the_real_block_counts():
    """The same rule on the bundled full-size configs: SDXL 32 blocks (0–31), SD2 24."""
    assert bundled_config("sdxl", "text_encoder_2")["num_hidden_layers"] == 32
    assert bundled_config("sd2", "text_encoder")["num_hidden_layers"] + 1 == 24
