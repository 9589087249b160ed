"""Optimizers and learning-rate schedules (diffusers' `get_scheduler`), and the LR curve the
tab plots — computed from the very scheduler object a run would use."""

from __future__ import annotations

import importlib.util
from typing import Any

from lora_for_dummies.errors import UserError
from lora_for_dummies.train.config import OptimizerConfig


def warmup_steps(config: OptimizerConfig, total_steps: int) -> int:
    return int(round(config.warmup * total_steps)) if config.warmup < 1 else int(config.warmup)


def build_optimizer(config: OptimizerConfig, unet_params: list[Any], text_params: list[Any],
                    device: str) -> Any:
    """The optimizer over the UNet's and (when trained) the text encoders' LoRA weights, each
    with its own lr; its default lr = the UNet lr (diffusers' polynomial schedule reads it)."""
    import torch

    groups = [{"params": unet_params, "lr": config.unet_lr}]
    if text_params:
        groups.append({"params": text_params, "lr": config.text_encoder_lr})
    name = config.name
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=config.unet_lr, weight_decay=config.weight_decay)
    if name == "adamw8bit":
        if not device.startswith("cuda"):
            raise UserError("8-bit AdamW (bitsandbytes) needs an NVIDIA GPU; choose adamw here")
        if importlib.util.find_spec("bitsandbytes") is None:
            raise UserError("8-bit AdamW needs bitsandbytes: pip install bitsandbytes (a version "
                            "that fits your torch; ≤ 0.45.5 for torch < 2.4)")
        import bitsandbytes as bnb

        return bnb.optim.AdamW8bit(groups, lr=config.unet_lr, weight_decay=config.weight_decay)
    if name == "adafactor":
        from transformers.optimization import Adafactor

        return Adafactor(groups, lr=config.unet_lr, scale_parameter=False, relative_step=False,
                         warmup_init=False, weight_decay=config.weight_decay)
    if name == "prodigy":
        if importlib.util.find_spec("prodigyopt") is None:
            raise UserError("the Prodigy optimizer needs prodigyopt: pip install prodigyopt")
        from prodigyopt import Prodigy

        return Prodigy(groups, lr=config.unet_lr, weight_decay=config.weight_decay)
    raise UserError(f"unknown optimizer {name!r}")


def build_scheduler(config: OptimizerConfig, optimizer: Any, total_steps: int) -> Any:
    from diffusers.optimization import get_scheduler

    kwargs: dict[str, Any] = {"num_warmup_steps": warmup_steps(config, total_steps),
                              "num_training_steps": total_steps}
    if config.scheduler == "cosine_with_restarts":
        kwargs["num_cycles"] = config.cycles
    if config.scheduler == "polynomial":
        kwargs["power"] = config.power
    if config.scheduler == "constant":
        kwargs = {}
    return get_scheduler(config.scheduler, optimizer, **kwargs)


def lr_curve(config: OptimizerConfig, total_steps: int) -> list[float]:
    """The UNet learning rate at every step, from a real scheduler on a stand-in parameter."""
    import torch

    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=config.unet_lr)
    scheduler = build_scheduler(config, optimizer, total_steps)
    values = []
    for _ in range(total_steps):
        values.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return values
