"""The strength each loader applies is the file's delta: a kohya-format Flux LoRA written by
`save_flux_lora` on a tiny BFL-layout model, loaded by the re-stated ComfyUI v0.3.77 / Forge
Neo rule and by diffusers (FluxPipeline.load_lora_weights, which converts kohya Flux files),
with one rank and with a per-module (dynamic) rank."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lora_for_dummies.families.flux.architecture import variant_config
from lora_for_dummies.families.flux.consumers import comfy_apply
from lora_for_dummies.families.flux.keys import (
    bfl_to_diffusers,
    diffusers_config,
    flux_targets,
    split_delta,
)
from lora_for_dummies.families.flux.lora_file import save_flux_lora
from lora_for_dummies.families.flux.synthetic import random_transformer, save_transformer
from lora_for_dummies.lora.format import LoraModule


def _modules(targets, ranks=(4,), alphas=(2.0,), seed=0) -> dict[str, LoraModule]:
    """Random factors, large enough that a dropped module or a wrong scale shows."""
    generator = torch.Generator().manual_seed(seed)
    modules = {}
    for index, target in enumerate(targets):
        rank = ranks[index % len(ranks)]
        out_features, in_features = target.shape
        modules[target.name] = LoraModule(
            torch.randn(rank, in_features, generator=generator) * 0.1,
            torch.randn(out_features, rank, generator=generator) * 0.1,
            alphas[index % len(alphas)])
    return modules


@pytest.mark.parametrize(("variant", "prefix"), [("dev", ""), ("schnell", ""),
                                                 ("chroma", "model.diffusion_model.")])
@pytest.mark.parametrize("ranks", [(4,), (4, 2, 4, 1)], ids=["one rank", "dynamic rank"])
def test_comfy_and_forge_neo_apply_the_file_delta(tmp_path, variant, prefix, ranks):
    config = variant_config(variant, tiny=True)
    base_path = save_transformer(random_transformer(config), tmp_path / "base.safetensors",
                                 prefix)
    targets = flux_targets(config)
    modules = _modules(targets, ranks, alphas=(2.0, 1.0, 3.0))
    lora_path = save_flux_lora(tmp_path / "style.safetensors", modules, variant)
    base, lora = load_file(str(base_path)), load_file(str(lora_path))
    patched, unmatched = comfy_apply(base, lora, strength=0.7, prefix=prefix)
    assert unmatched == []  # every key placed: far from Forge Neo's 50 % skip
    changed = {prefix + t.key: t.name for t in targets}
    for key, weight in base.items():
        if key in changed:
            expected = 0.7 * modules[changed[key]].delta()
            assert torch.allclose(patched[key] - weight, expected, atol=1e-6), key
        else:
            assert torch.equal(patched[key], weight), key


def test_comfy_rule_finds_keys_that_do_not_fit(tmp_path):
    """Not vacuous: a module of a deeper model is left unmatched, and a file of another
    model's names is skipped whole, as Forge Neo does past half."""
    config = variant_config("dev", tiny=True)
    base = random_transformer(config)
    # Modules of block 18, which a full-size model has and the tiny one (2 blocks) has not.
    alien = {f"lora_unet_double_blocks_18_{part}": LoraModule(torch.ones(4, 64),
                                                             torch.ones(192, 4), 4.0)
             for part in ("img_attn_qkv", "txt_attn_qkv")}
    mixed = dict(_modules(flux_targets(config)), **alien)
    lora = load_file(str(save_flux_lora(tmp_path / "mixed.safetensors", mixed, "dev")))
    _, unmatched = comfy_apply(base, lora)
    assert unmatched and all("blocks_18_" in k for k in unmatched)
    only_alien = load_file(str(save_flux_lora(tmp_path / "alien.safetensors", alien, "dev")))
    with pytest.raises(ValueError, match="Forge Neo skips this LoRA"):
        comfy_apply(base, only_alien)


def _peft_backend() -> None:
    from diffusers.utils import USE_PEFT_BACKEND

    if not USE_PEFT_BACKEND:
        pytest.skip("diffusers' PEFT backend needs transformers > 4.33 (the webui set has "
                    "4.30): load_lora_weights refuses to run there")


def _diffusers_version() -> tuple[int, ...]:
    import diffusers

    return tuple(int(p) for p in diffusers.__version__.split(".")[:2])


def _fused_change(tmp_path: Path, config, modules, strength: float) -> dict[str, torch.Tensor]:
    """{diffusers weight: its change} after FluxPipeline.load_lora_weights + fuse_lora."""
    from diffusers import FluxPipeline, FluxTransformer2DModel

    model = FluxTransformer2DModel(**diffusers_config(config))
    model.load_state_dict(bfl_to_diffusers(random_transformer(config), config), strict=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    path = save_flux_lora(tmp_path / "style.safetensors", modules, config.variant)
    pipe = FluxPipeline(scheduler=None, vae=None, text_encoder=None, tokenizer=None,
                        text_encoder_2=None, tokenizer_2=None, transformer=model)
    pipe.load_lora_weights(str(path.parent), weight_name=path.name)  # offline: name the file
    pipe.fuse_lora(lora_scale=strength)
    after = {k.replace(".base_layer", ""): v for k, v in model.state_dict().items()
             if "lora_" not in k}
    return {k: after[k] - before[k] for k in before}


def _diffusers_targets(config):
    """diffusers' kohya converter splits single_blocks.N.linear1 with the full-size widths
    written into it ([3072] * 3 + [12288]); at hidden 64 it cannot, so the tiny files leave
    linear1 out (test_diffusers_converts_linear1_at_full_size covers it)."""
    return [t for t in flux_targets(config) if not t.module.endswith(".linear1")]


DYNAMIC = pytest.param((4, 2, 4, 1), id="dynamic rank", marks=pytest.mark.xfail(
    condition=_diffusers_version() < (0, 42), strict=True,
    reason="diffusers < 0.42 gives PEFT one lora_alpha (the most common rank) when a kohya "
           "Flux file's alphas are folded in: a module of another rank r is applied "
           "r_common / r times too strongly (utils/peft_utils.get_peft_kwargs; fixed in 0.42)"))


@pytest.mark.parametrize("ranks", [(4,), DYNAMIC], ids=["one rank", "dynamic rank"])
def test_diffusers_applies_the_file_delta(tmp_path, ranks):
    _peft_backend()
    config = variant_config("dev", tiny=True)
    targets = _diffusers_targets(config)
    modules = _modules(targets, ranks, alphas=(2.0, 1.0, 3.0))
    change = _fused_change(tmp_path, config, modules, strength=0.7)
    touched = set()
    for target in targets:
        for module, delta in split_delta(target.module, modules[target.name].delta(),
                                         config).items():
            got = change[module + ".weight"]
            assert torch.allclose(got, 0.7 * delta, atol=1e-5), (target.name, module)
            touched.add(module + ".weight")
    assert all(float(v.abs().max()) == 0 for k, v in change.items() if k not in touched)


def test_diffusers_converts_linear1_at_full_size(tmp_path):
    """FluxPipeline.lora_state_dict on a full-size rank-1 file of every default module: each
    converted piece (lora_B @ lora_A, alpha folded in) is the file's delta cut by our map —
    fused q/k/v, and linear1's q/k/v + MLP rows. Checked on a probe vector: the full-size
    deltas would take gigabytes."""
    _peft_backend()
    from diffusers import FluxPipeline

    config = variant_config("dev")
    targets = flux_targets(config)
    modules = _modules(targets, ranks=(1,), alphas=(0.5, 2.0))
    path = save_flux_lora(tmp_path / "full.safetensors", modules, "dev")
    converted = FluxPipeline.lora_state_dict(str(path.parent), weight_name=path.name)
    converted = converted[0] if isinstance(converted, tuple) else converted
    generator = torch.Generator().manual_seed(1)
    for target in targets:
        module = modules[target.name]
        probe = torch.randn(target.shape[1], generator=generator)
        ours = module.up.float() @ (module.down.float() @ probe) * module.scale
        pieces = split_delta(target.module, ours[:, None], config)
        for name, expected in pieces.items():
            a = converted[f"transformer.{name}.lora_A.weight"].float()
            b = converted[f"transformer.{name}.lora_B.weight"].float()
            assert torch.allclose(b @ (a @ probe), expected[:, 0], atol=1e-4), name
