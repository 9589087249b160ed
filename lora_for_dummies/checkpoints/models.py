"""Build diffusers/transformers models from configs and load them from a single file, offline.

Configs come from, in order: the caller, the file's own `lfd.configs` metadata (written by
`write.save_checkpoint`, which is how merged and test checkpoints keep non-standard sizes), or
the configs bundled for the detected family. Nothing is ever fetched from a hub.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lora_for_dummies.checkpoints.convert import split_checkpoint
from lora_for_dummies.checkpoints.detect import detect_family
from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.errors import CheckpointError
from lora_for_dummies.families import bundled_config, component_names
from lora_for_dummies.memory import release_freed_memory

CONFIGS_METADATA_KEY = "lfd.configs"


def canonical_text_key(key: str) -> str:
    """Real checkpoints name CLIP weights `text_model.…`; transformers 5 drops that prefix."""
    if key.startswith("text_model.") or key.startswith("text_projection."):
        return key
    return "text_model." + key


def build_model(component: str, config: dict[str, Any], empty: bool = False) -> Any:
    """A randomly initialised (or, with `empty`, meta-device) model for one component."""
    import contextlib

    if empty:
        from accelerate import init_empty_weights

        context: Any = init_empty_weights()
    else:
        context = contextlib.nullcontext()
    config = {k: v for k, v in config.items() if not k.startswith("_")}
    with context:
        if component == "unet":
            from diffusers import UNet2DConditionModel

            return UNet2DConditionModel.from_config(config)
        if component == "vae":
            from diffusers import AutoencoderKL

            return AutoencoderKL.from_config(config)
        from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

        text_config = CLIPTextConfig(**{k: v for k, v in config.items() if k != "architectures"})
        with_projection = "CLIPTextModelWithProjection" in config.get("architectures", [])
        cls = CLIPTextModelWithProjection if with_projection else CLIPTextModel
        return cls(text_config)


def model_keys(component: str, config: dict[str, Any]) -> list[str]:
    """The diffusers state-dict keys of a component, in canonical form, without allocating it."""
    return _canonical_keys(component, build_model(component, config, empty=True))


def _canonical_keys(component: str, model: Any) -> list[str]:
    keys = model.state_dict().keys()
    if component.startswith("text_encoder"):
        return [canonical_text_key(k) for k in keys]
    return list(keys)


def resolve_configs(ckpt: CheckpointFile, family: str,
                    configs: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    if configs:
        return configs
    embedded = ckpt.metadata.get(CONFIGS_METADATA_KEY)
    if embedded:
        try:
            return json.loads(embedded)
        except json.JSONDecodeError:
            pass
    return {name: bundled_config(family, name) for name in component_names(family)}


@dataclass
class LoadedModels:
    family: str
    configs: dict[str, dict[str, Any]]
    models: dict[str, Any] = field(default_factory=dict)


class _EmptyFp32Notice(logging.Filter):
    """diffusers warns "There are modules in AutoencoderKL that should be kept in float32: []"
    on every `.to(dtype)`, also when the list is empty (no module needs float32): that notice,
    and only that one, is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "should be kept in float32: []" not in record.getMessage()


def quiet_diffusers_fp32_notice() -> None:
    """Install the filter once on diffusers' model logger (before any model is moved)."""
    logger = logging.getLogger("diffusers.models.modeling_utils")
    if not any(isinstance(f, _EmptyFp32Notice) for f in logger.filters):
        logger.addFilter(_EmptyFp32Notice())


def load_models(path: str | Path, components: list[str] | None = None, dtype: Any = None,
                device: str = "cpu", use_ema: bool = False,
                configs: dict[str, dict[str, Any]] | None = None,
                should_stop: Callable[[], bool] | None = None) -> LoadedModels:
    """Load diffusers models (UNet, VAE, text encoders) from one single-file checkpoint.
    `should_stop` is asked between components and tensors: when it says yes, loading ends
    with `progress.StopRequested` (a full-size UNet takes tens of seconds)."""
    import torch

    from lora_for_dummies.progress import StopRequested

    def check() -> None:
        if should_stop is not None and should_stop():
            raise StopRequested

    quiet_diffusers_fp32_notice()
    with CheckpointFile(path) as ckpt:
        family = detect_family(ckpt)
        configs = resolve_configs(ckpt, family, configs)
        wanted = components or component_names(family)
        loaded = LoadedModels(family, configs)
        target = dtype or torch.float32
        converted = False  # whether any read copy was let go (then its memory is handed back)
        for name in wanted:  # one component at a time: the file's copy of one is held at most
            check()
            model = build_model(name, configs[name], empty=True)
            try:
                split = split_checkpoint(ckpt, family, configs,
                                         {name: _canonical_keys(name, model)},
                                         use_ema=use_ema, keep_extras=False)
            except KeyError as err:
                what = "EMA weights" if use_ema else "weights"
                raise CheckpointError(path, f"incomplete checkpoint: {what} missing "
                                      f"({err.args[0]})") from None
            state = split.components.pop(name)
            if name.startswith("text_encoder"):
                own = set(model.state_dict())
                state = {k if k in own else k.removeprefix("text_model."): v
                         for k, v in state.items()}
            for key, tensor in state.items():  # converted one by one, each read copy let go
                check()
                state[key] = tensor.to(device, target if tensor.is_floating_point() else None)
                converted = converted or state[key] is not tensor
            missing, unexpected = _load_state(model, state)
            if missing or unexpected:
                raise CheckpointError(path, f"{name} does not match its config: "
                                      f"missing {missing[:2]}, unexpected {unexpected[:2]}")
            model.to(device=device, dtype=target)  # buffers the file does not hold
            model.eval().requires_grad_(False)
            loaded.models[name] = model
    if converted:  # a garbage collection costs ~0.3 s in a process that imported diffusers
        release_freed_memory()
    return loaded


def _load_state(model: Any, state: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Load into a meta-device model; buffers the file does not hold keep their own values."""
    result = model.load_state_dict(state, strict=False, assign=True)
    missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
    for name, buffer in list(model.named_buffers()):
        if buffer.is_meta:
            raise ValueError(f"buffer {name} was not initialised")
    return missing, list(result.unexpected_keys)
