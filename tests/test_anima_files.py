"""Anima files (issue 27, its first part): the DiT's names and shapes against kohya's own Anima
class (tests/data/anima_keys.json), recognition under each prefix, and an extracted LoRA with
kohya's `lora_unet_<module>` names applied at the file's own strength by the re-stated Forge
Neo / ComfyUI rule. Real tiny files, no mocks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from lora_for_dummies import families
from lora_for_dummies.checkpoints.detect import inspect_checkpoint
from lora_for_dummies.cli import main
from lora_for_dummies.errors import CheckpointError
from lora_for_dummies.families.anima.architecture import FULL_SIZE, native_shapes
from lora_for_dummies.families.anima.keys import extraction_targets, training_targets
from lora_for_dummies.families.anima.layout import recognise_anima
from lora_for_dummies.families.anima.synthetic import (
    TINY,
    random_transformer,
    save_transformer,
    write_tuned_pair,
)
from lora_for_dummies.lora.comfy_unet import comfy_apply

DATA = Path(__file__).resolve().parent / "data"


def test_names_and_shapes_are_kohyas_anima_class():
    reference = json.loads((DATA / "anima_keys.json").read_text(encoding="utf-8"))["keys"]
    # its RoPE tables are buffers the model computes (pos_embedder.*), not weights a file needs
    weights = {k: tuple(v) for k, v in reference.items() if not k.startswith("pos_embedder.")}
    assert native_shapes(FULL_SIZE) == weights
    assert round(sum(torch.Size(s).numel() for s in weights.values()) / 1e9, 2) == 2.09
    # kohya's default LoRA: 10 Linears a block (attention q/k/v/out twice, the MLP's two)
    assert len(training_targets(FULL_SIZE)) == 28 * 10
    assert training_targets(FULL_SIZE)[0].name == "lora_unet_blocks_0_self_attn_q_proj"


@pytest.mark.parametrize("prefix", ["net.", "diffusion_model.", "model.diffusion_model.", ""])
def test_inspect_names_an_anima_dit_under_each_prefix(tmp_path, prefix):
    path = save_transformer(random_transformer(TINY), tmp_path / "anima.safetensors", prefix,
                            torch.bfloat16)
    assert recognise_anima(path).config == TINY
    info = inspect_checkpoint(path, compute_hash=False)
    assert info.family == "anima" and info.variant == "Anima DiT"
    rows = dict(info.rows())
    assert "non-commercial" in rows["Licence"] and rows["Key prefix"] == (prefix or "none")
    assert any("non-commercial licence" in w for w in info.warnings)


def test_a_cosmos_dit_without_the_adapter_and_a_broken_file_are_one_line(tmp_path):
    state = random_transformer(TINY)
    cosmos = {k: v for k, v in state.items() if not k.startswith("llm_adapter.")}
    with pytest.raises(CheckpointError, match="Cosmos-Predict2 DiT without Anima's LLM adapter"):
        inspect_checkpoint(save_transformer(cosmos, tmp_path / "c.safetensors"),
                           compute_hash=False)
    broken = dict(state)
    del broken["blocks.1.mlp.layer2.weight"]
    with pytest.raises(CheckpointError, match="incomplete Anima file: 1 of its"):
        inspect_checkpoint(save_transformer(broken, tmp_path / "b.safetensors"),
                           compute_hash=False)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("anima")
    base, tuned, changes = write_tuned_pair(folder)
    lora_dir = folder / "Lora"
    assert main(["extract", str(base), str(tuned), "--name", "anima diff", "--lora-dir",
                 str(lora_dir), "--rank", "8", "--dtype", "fp32"]) == 0
    return {"base": base, "tuned": tuned, "changes": changes, "dir": lora_dir,
            "lora": lora_dir / "anima diff.safetensors"}


def test_extract_writes_kohyas_names_that_reproduce_the_change(extracted):
    lora = load_file(str(extracted["lora"]))
    assert {k.split(".")[0] for k in lora} == {t.name for t in extraction_targets(TINY)}
    assert "lora_unet_blocks_0_cross_attn_k_proj.lora_down.weight" in lora
    with safe_open(str(extracted["lora"]), "pt") as file:
        metadata = file.metadata()
    assert metadata["modelspec.architecture"] == "anima-preview/lora"
    assert metadata["ss_network_module"] == "networks.lora_anima"
    base, tuned = load_file(str(extracted["base"])), load_file(str(extracted["tuned"]))
    for strength in (1.0, 0.5):
        patched, unmatched = comfy_apply(base, lora, strength, prefix="net.")
        assert unmatched == []
        for key, weight in base.items():
            changed = tuned["diffusion_model." + key[len("net."):]]
            torch.testing.assert_close(patched[key], weight + strength * (changed - weight),
                                       rtol=0, atol=2e-5)


def test_cli_lora_info_inspect_hosts_and_refusals(extracted, capsys):
    assert main(["lora-info", str(extracted["lora"])]) == 0
    out = capsys.readouterr().out
    assert "32 modules" in out and "base model: anima" in out and "no text-encoder part" not in out
    assert main(["inspect", str(extracted["lora"])]) == 0
    assert capsys.readouterr().out.strip().startswith(
        "anima diff.safetensors: this is an Anima LoRA, not a base model")
    args = ["extract", str(extracted["base"]), str(extracted["tuned"]), "--lora-dir",
            str(extracted["dir"]), "--name"]
    for argv, reason in ((args + ["conv", "--conv-rank", "4"], "Anima has no convolution"),
                         (args + ["big", "--rank", "500"], "larger than every layer")):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and reason in err[0], err
    for kind, reason in (("a1111", "Anima needs Forge Neo"), ("forge", "offered on Forge Neo"),
                         ("forge_neo", "training is not built yet"),
                         ("standalone", "training is not built yet")):
        runs, note = families.available_on(kind)
        assert "anima" not in runs and reason in note, kind
    assert main(["train", "--example", "--family", "anima"]) == 2
    assert "Anima: training is not built yet" in capsys.readouterr().err
