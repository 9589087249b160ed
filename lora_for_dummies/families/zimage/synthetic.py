"""Random-weight Z-Image transformers laid out exactly like real ones — native names
(`architecture.native_shapes`, optionally under `model.diffusion_model.`) or diffusers' — and a
fine-tuned pair (a base and a copy with a known low-rank change in every block Linear) for
extraction. Used by the tests and the tiny demo; nothing here is downloaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lora_for_dummies.families.zimage.architecture import ZImageConfig, native_shapes
from lora_for_dummies.families.zimage.keys import diffusers_map, extraction_targets

TINY = ZImageConfig(dim=64, n_layers=2, n_refiner_layers=1, n_heads=2, cap_feat_dim=32)


def random_transformer(config: ZImageConfig, seed: int = 0) -> dict[str, Any]:
    """{native key: fp32 tensor}: weights ~ N(0, 1/fan_in), biases small, norm scales near 1."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in native_shapes(config).items():
        module = key.rsplit(".", 1)[0]
        if module.endswith(("norm", "norm1", "norm2")) or module == "cap_embedder.0":
            tensor = 1 + 0.05 * torch.randn(shape, generator=generator)
        elif len(shape) == 1 or key.endswith("_pad_token"):
            tensor = 0.02 * torch.randn(shape, generator=generator)
        else:
            tensor = torch.randn(shape, generator=generator) / shape[1] ** 0.5
        state[key] = tensor
    return state


def as_diffusers(state: dict[str, Any], config: ZImageConfig) -> dict[str, Any]:
    """The same weights under diffusers' names (q / k / v split)."""
    return {name: state[rows.key] if rows.rows is None else
            state[rows.key][rows.start: rows.start + rows.rows].clone()
            for name, rows in diffusers_map(config).items()}


def save_transformer(state: dict[str, Any], path: str | Path, prefix: str = "",
                     dtype: Any = None, names: str = "native",
                     config: ZImageConfig = TINY) -> Path:
    """Write a native state dict (fp32) as `.safetensors`: under `prefix`, in `dtype`, with
    native or diffusers names."""
    from lora_for_dummies.checkpoints.write import save_state_dict

    if names == "diffusers":
        state = as_diffusers(state, config)
    stored = {prefix + k: (v.to(dtype) if dtype is not None else v) for k, v in state.items()}
    return save_state_dict(stored, path, {})


def write_zimage_transformer(path: str | Path, seed: int = 0, prefix: str = "",
                             dtype: Any = None, names: str = "native",
                             config: ZImageConfig = TINY) -> Path:
    """A random Z-Image transformer file (tiny: about 0.6 M parameters)."""
    return save_transformer(random_transformer(config, seed), path, prefix, dtype, names, config)


def changed(base: dict[str, Any], config: ZImageConfig, rank: int, scale: float, seed: int
            ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(base + a rank-`rank` change in every extraction target — q, k and v each their own
    rows of the fused qkv —, {LoRA module name: the change})."""
    import torch

    from lora_for_dummies.checkpoints.synthetic_change import low_rank_change

    tuned = {k: v.clone() for k, v in base.items()}
    generator = torch.Generator().manual_seed(seed)
    changes = {}
    for target in extraction_targets(config):
        rows = target.native
        weight = tuned[rows.key] if rows.rows is None else \
            tuned[rows.key].narrow(0, rows.start, rows.rows)
        change = low_rank_change(tuple(weight.shape), rank, scale * float(weight.norm()),
                                 generator)
        weight += change
        changes[target.name] = change
    return tuned, changes


def write_tuned_pair(folder: str | Path, seed: int = 0, rank: int = 4, scale: float = 0.05,
                     tuned_prefix: str = "", names: str = "native", config: ZImageConfig = TINY
                     ) -> tuple[Path, Path, dict[str, Any]]:
    """`base.safetensors` and `tuned.safetensors`; returns (base, tuned, {LoRA module name:
    the change in fp32})."""
    folder = Path(folder)
    base = random_transformer(config, seed)
    tuned, changes = changed(base, config, rank, scale, seed + 1)
    base_path = save_transformer(base, folder / "base.safetensors", names=names, config=config)
    tuned_path = save_transformer(tuned, folder / "tuned.safetensors", tuned_prefix,
                                  names=names, config=config)
    return base_path, tuned_path, changes


def write_finetune(base: str | Path, tuned: str | Path, rank: int = 4, scale: float = 0.05,
                   seed: int = 1) -> Path:
    """A fine-tune of the native Z-Image file `base` (no prefix): the same weights plus a
    rank-`rank` change in each block Linear — the demo's pair."""
    from safetensors.torch import load_file

    from lora_for_dummies.families.zimage.layout import recognise_zimage

    config = recognise_zimage(base).config
    state = {k: v.float() for k, v in load_file(str(base)).items()}
    tuned_state, _ = changed(state, config, rank, scale, seed)
    return save_transformer(tuned_state, tuned, config=config)
