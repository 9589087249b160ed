"""diffusers' training helpers (`compute_snr`, `cast_training_params`), and where they cannot
be imported, the same two formulas.

`diffusers.training_utils` reads `transformers.integrations.deepspeed` at import, a package
that transformers 4.30.2 (A1111 1.10's pin) does not have, so there the module fails to
import. A test checks that the stand-ins equal diffusers' functions on the sets that have them.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def _diffusers_training_utils() -> Any:
    import importlib

    try:
        return importlib.import_module("diffusers.training_utils")
    except (ImportError, AttributeError, RuntimeError):  # see the module docstring
        return None


def compute_snr(noise_scheduler: Any, timesteps: Any) -> Any:
    """Signal-to-noise ratio α_t / (1 − α_t) of each timestep (α: the cumulative product)."""
    utils = _diffusers_training_utils()
    if utils is not None:
        return utils.compute_snr(noise_scheduler, timesteps)
    alphas = noise_scheduler.alphas_cumprod.to(timesteps.device)[timesteps].float()
    return (alphas.sqrt() / (1.0 - alphas).sqrt()) ** 2


def cast_training_params(models: list[Any], dtype: Any = None) -> None:
    """Cast the trainable parameters of `models` (fp32 by default), the others left as they are:
    LoRA weights train in fp32 while the frozen base stays in fp16/bf16."""
    import torch

    dtype = dtype or torch.float32
    utils = _diffusers_training_utils()
    if utils is not None:
        utils.cast_training_params(models, dtype=dtype)
        return
    for model in models:
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.data = parameter.to(dtype)
