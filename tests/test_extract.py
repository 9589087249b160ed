"""Extraction on tiny SD1 / SD2-v / SDXL: the LoRA merged back reproduces the fine-tune."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from lora_fixtures import write_tuned

from lora_for_dummies.checkpoints.kohya_names import kohya_name, lora_target_modules
from lora_for_dummies.checkpoints.models import load_models, resolve_configs
from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.errors import UserError
from lora_for_dummies.extract.run import ExtractSettings, extract_lora
from lora_for_dummies.lora.apply import merge_into_state
from lora_for_dummies.lora.format import load_lora
from lora_for_dummies.lora.lowrank import RankRule, factorize


@pytest.fixture(scope="module")
def tuned(tiny_models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tuned")
    return {name: (folder / f"{name}-tuned.safetensors",
                   write_tuned(tiny_models[name], folder / f"{name}-tuned.safetensors", seed=i))
            for i, name in enumerate(["sd1", "sd2v", "sdxl"])}


@pytest.mark.parametrize("name,family", [("sd1", "sd1"), ("sd2v", "sd2"), ("sdxl", "sdxl")])
def test_extracted_lora_merged_back_reproduces_the_fine_tune(tiny_models, tuned, tmp_path, name,
                                                             family):
    tuned_path, changes = tuned[name]
    out = tmp_path / f"{name}-extracted.safetensors"
    report = extract_lora(tiny_models[name], tuned_path, out.parent, out.stem,
                          ExtractSettings(rule=RankRule(rank=8), save_dtype="fp32"))
    modules, metadata = load_lora(out)
    assert set(modules) == set(changes)
    assert all(not info["skipped"] for info in report.parts.values())
    assert max(m.error for m in report.modules) < 0.01  # the change is rank 4 + tiny noise
    # Merged back into the base, the weights are the fine-tuned ones.
    with CheckpointFile(tiny_models[name]) as base, CheckpointFile(tuned_path) as tuned_file:
        configs = resolve_configs(base, family)
        merged, unmatched = merge_into_state({k: base.get(k) for k in base.keys()}, modules,
                                             family, configs)
        assert unmatched == []
        for key in tuned_file.keys():
            target = tuned_file.get(key).float()
            error = float((merged[key].float() - target).norm() / target.norm().clamp_min(1e-12))
            assert error < 1e-3, key
    assert metadata["ss_base_model_version"] == {"sd1": "sd_v1", "sd2": "sd_v2_v",
                                                 "sdxl": "sdxl_base_v1-0"}[family]
    assert metadata["ss_network_module"] == "networks.lora" and "extracted" in metadata[
        "ss_training_comment"]
    assert metadata["modelspec.architecture"].endswith("/lora")
    assert len(metadata["sshs_model_hash"]) == 64
    # the sources' hashes (computed beside the extraction) are the files' own
    tuned_sha, base_sha = (hashlib.sha256(Path(p).read_bytes()).hexdigest()[:10]
                           for p in (tuned_path, tiny_models[name]))
    assert f"(sha256 {tuned_sha} − {base_sha})" in metadata["ss_training_comment"]


@pytest.mark.parametrize("name,family", [("sd1", "sd1"), ("sdxl", "sdxl")])
def test_keys_are_the_training_names(tiny_models, tuned, tmp_path, name, family):
    out = tmp_path / "keys.safetensors"
    extract_lora(tiny_models[name], tuned[name][0], out.parent, out.stem,
                 ExtractSettings(rule=RankRule(rank=4)))
    loaded = load_models(tiny_models[name])
    expected = set()
    for component, model in loaded.models.items():
        if component == "vae":
            continue
        expected |= {kohya_name(family, component, m, loaded.configs["unet"])
                     for m in lora_target_modules(model, component)}
    assert set(load_lora(out)[0]) == expected


def test_diffusers_loads_every_key(tiny_models, tuned, tmp_path):
    from diffusers.utils import USE_PEFT_BACKEND

    out = tmp_path / "for diffusers.safetensors"
    extract_lora(tiny_models["sd1"], tuned["sd1"][0], out.parent, out.stem,
                 ExtractSettings(rule=RankRule(rank=4)))
    modules, _ = load_lora(out)
    if not USE_PEFT_BACKEND:  # webui set: transformers 4.30 — checked by our own merge above
        pytest.skip("diffusers' PEFT backend needs transformers > 4.33 (webui set)")
    from diffusers_check import load_with_diffusers

    _, adapted = load_with_diffusers(load_models(tiny_models["sd1"]), out)
    assert adapted == len(modules)


def test_text_encoder_unchanged_is_skipped_with_numbers(tiny_models, tmp_path):
    tuned_path = tmp_path / "unet-only.safetensors"
    write_tuned(tiny_models["sd1"], tuned_path, text_encoders=False)
    report = extract_lora(tiny_models["sd1"], tuned_path, tmp_path, "u")
    assert report.parts["text_encoder"]["skipped"]
    assert report.parts["text_encoder"]["difference"] == 0.0
    assert "difference 0.00e+00" in " ".join(report.summary())
    assert all(not n.startswith("lora_te") for n in load_lora(tmp_path / "u.safetensors")[0])


def test_conv_layers_with_their_own_rank(tiny_models, tmp_path):
    tuned_path = tmp_path / "conv.safetensors"
    changes = write_tuned(tiny_models["sd1"], tuned_path, conv=True)
    out = tmp_path / "locon.safetensors"
    extract_lora(tiny_models["sd1"], tuned_path, out.parent, out.stem,
                 ExtractSettings(rule=RankRule(rank=4), conv_rule=RankRule(rank=6)))
    modules, metadata = load_lora(out)
    conv = [m for n, m in modules.items() if "resnets" in n]
    assert conv and all(m.down.dim() == 4 and m.rank <= 6 for m in conv)
    assert set(modules) == set(changes)
    assert json.loads(metadata["ss_network_args"])["conv_dim"] == "6"  # kohya's string form


def test_ema_choice_and_clamp_report(tiny_models, tmp_path):
    tuned_path = tmp_path / "t.safetensors"
    write_tuned(tiny_models["sd1"], tuned_path)
    plain = extract_lora(tiny_models["sd1"], tuned_path, tmp_path, "a")
    clamped = extract_lora(tiny_models["sd1"], tuned_path, tmp_path, "b",
                           ExtractSettings(clamp=0.9))
    assert all(m.clamp_error is not None for m in clamped.modules if not m.skipped)
    mean = lambda r: sum(m.error for m in r.modules) / len(r.modules)  # noqa: E731
    assert mean(clamped) > mean(plain)  # the clamp costs accuracy, and the report says so
    with pytest.raises(UserError, match="no EMA"):
        extract_lora(tiny_models["sd1"], tuned_path, tmp_path, "c",
                     ExtractSettings(use_ema=True))


def _decaying(out_features, in_features, seed, decay=0.93):
    generator = torch.Generator().manual_seed(seed)
    u = torch.linalg.qr(torch.randn(out_features, min(out_features, in_features),
                                    generator=generator))[0]
    v = torch.linalg.qr(torch.randn(in_features, min(out_features, in_features),
                                    generator=generator))[0]
    s = decay ** torch.arange(u.shape[1], dtype=torch.float32)
    return (u * s) @ v.T + 1e-3 * torch.randn(out_features, in_features, generator=generator)


@pytest.mark.parametrize("shape,seed", [((320, 768), 0), ((640, 640), 1), ((1280, 640), 2),
                                        ((768, 3072), 3)])
def test_randomised_svd_is_within_two_percent_of_optimal(shape, seed):
    delta = _decaying(*shape, seed)
    fast = factorize(delta, RankRule(rank=32))
    exact = factorize(delta, RankRule(rank=32, exact=True))
    true_fast = float((delta - fast.up @ fast.down).norm() / delta.norm())
    assert abs(true_fast - fast.relative_error) < 1e-3  # the reported error is the real one
    assert true_fast <= exact.relative_error * 1.02


def test_dynamic_rank_rules():
    delta = _decaying(256, 256, 5, decay=0.8)
    assert factorize(delta, RankRule("ratio", rank=64, threshold=0.8 ** 10)).down.shape[0] == 11
    fro = factorize(delta, RankRule("frobenius", rank=64, threshold=0.99))
    s = torch.linalg.svdvals(delta).double()
    kept = torch.sqrt(torch.cumsum(s**2, 0) / (s**2).sum())
    assert fro.down.shape[0] == int((kept < 0.99).sum()) + 1
    assert 1 - fro.relative_error ** 2 >= 0.99 ** 2 - 1e-4
    energy = factorize(delta, RankRule("energy", rank=200, threshold=0.5))
    share = torch.cumsum(s, 0) / s.sum()  # energy: share of the sum of singular values
    assert energy.down.shape[0] == int((share < 0.5).sum()) + 1
    assert factorize(delta, RankRule("fixed", rank=64)).down.shape[0] == 64


def test_fp32_ckpt_pair_gives_the_same_lora(tiny_models, tuned, tmp_path):
    """From fp32 .ckpt files the reader hands out its own tensors (SD2's fused q/k/v is read
    once per third): extraction must not change them, and must match the .safetensors pair."""
    from lora_for_dummies.checkpoints.reader import CheckpointFile
    from lora_for_dummies.checkpoints.write import save_state_dict

    pair = []
    for source, name in ((tiny_models["sd2v"], "base.ckpt"), (tuned["sd2v"][0], "tuned.ckpt")):
        with CheckpointFile(source) as file:
            state = {k: file.get(k).float() for k in file.keys()}
            metadata = dict(file.metadata)
        pair.append(save_state_dict(state, tmp_path / name, metadata))
    settings = ExtractSettings(rule=RankRule(rank=8, exact=True), save_dtype="fp32")
    extract_lora(*pair, tmp_path, "from ckpt", settings)
    extract_lora(tiny_models["sd2v"], tuned["sd2v"][0], tmp_path, "from st", settings)
    from_ckpt, _ = load_lora(tmp_path / "from ckpt.safetensors")
    from_st, _ = load_lora(tmp_path / "from st.safetensors")
    assert from_ckpt.keys() == from_st.keys()
    for name in from_st:
        torch.testing.assert_close(from_ckpt[name].delta(), from_st[name].delta(), atol=1e-5,
                                   rtol=1e-4)
