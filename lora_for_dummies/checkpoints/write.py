"""Write a single-file checkpoint in the original LDM/sgm key layout, atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lora_for_dummies.atomic import atomic_path
from lora_for_dummies.checkpoints.convert import SplitCheckpoint, join_checkpoint
from lora_for_dummies.checkpoints.models import CONFIGS_METADATA_KEY


def save_state_dict(state: dict[str, Any], path: str | Path,
                    metadata: dict[str, str] | None = None) -> Path:
    """Save tensors as `.safetensors` (with metadata) or, for `.ckpt`, as a tensors-only pickle."""
    import torch

    path = Path(path)
    state = {k: v.detach().contiguous() for k, v in state.items()}
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".ckpt":
            torch.save({"state_dict": state, **(metadata or {})}, tmp)
        else:
            from safetensors.torch import save_file

            save_file(state, str(tmp), metadata=metadata or {})
    return path


def save_checkpoint(split: SplitCheckpoint, configs: dict[str, dict[str, Any]], path: str | Path,
                    dtype: Any = None, embed_configs: bool = False,
                    metadata: dict[str, str] | None = None) -> Path:
    """Join diffusers components (+ extras) to LDM layout and save them.

    `embed_configs` stores the component configs in the metadata so that models with
    non-standard sizes (test fixtures) load without guessing.
    """
    state = join_checkpoint(split, configs)
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    metadata = dict(metadata or {})
    if embed_configs:
        metadata[CONFIGS_METADATA_KEY] = json.dumps(configs, sort_keys=True)
    return save_state_dict(state, path, metadata)
