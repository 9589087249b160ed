"""Random-weight Anima DiTs laid out exactly like real ones (`architecture.native_shapes`, under
any of the files' prefixes) and a fine-tuned pair (a base and a copy with a known low-rank change
in every block Linear) for extraction. Used by the tests; nothing here is downloaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lora_for_dummies.families.anima.architecture import AnimaConfig, native_shapes
from lora_for_dummies.families.anima.keys import extraction_targets

TINY = AnimaConfig(dim=64, blocks=2, heads=2, context_dim=32, adaln_rank=16, adapter_dim=32,
                   adapter_blocks=1, adapter_heads=2, adapter_vocab=64)


def random_transformer(config: AnimaConfig, seed: int = 0) -> dict[str, Any]:
    """{key: fp32 tensor}: weights ~ N(0, 1/fan_in), biases small, norm scales near 1."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in native_shapes(config).items():
        if len(shape) == 1 and "norm" in key:
            tensor = 1 + 0.05 * torch.randn(shape, generator=generator)
        elif len(shape) == 1:
            tensor = 0.02 * torch.randn(shape, generator=generator)
        else:
            tensor = torch.randn(shape, generator=generator) / shape[1] ** 0.5
        state[key] = tensor
    return state


def save_transformer(state: dict[str, Any], path: str | Path, prefix: str = "net.",
                     dtype: Any = None) -> Path:
    """Write `state` as `.safetensors` under `prefix` (the official files' `net.` by default)."""
    from lora_for_dummies.checkpoints.write import save_state_dict

    stored = {prefix + k: (v.to(dtype) if dtype is not None else v) for k, v in state.items()}
    return save_state_dict(stored, path, {})


def write_tuned_pair(folder: str | Path, seed: int = 0, rank: int = 4, scale: float = 0.05,
                     tuned_prefix: str = "diffusion_model.", config: AnimaConfig = TINY
                     ) -> tuple[Path, Path, dict[str, Any]]:
    """`base.safetensors` (`net.`) and `tuned.safetensors` (`tuned_prefix`); returns (base,
    tuned, {kohya name: the change in fp32})."""
    import torch

    from lora_for_dummies.checkpoints.synthetic_change import low_rank_change

    folder = Path(folder)
    base = random_transformer(config, seed)
    tuned = {k: v.clone() for k, v in base.items()}
    generator = torch.Generator().manual_seed(seed + 1)
    changes = {}
    for target in extraction_targets(config):
        weight = tuned[target.key]
        change = low_rank_change(tuple(weight.shape), rank, scale * float(weight.norm()),
                                 generator)
        weight += change
        changes[target.name] = change
    return (save_transformer(base, folder / "base.safetensors"),
            save_transformer(tuned, folder / "tuned.safetensors", tuned_prefix), changes)
