"""A fine-tune made up for a known base: the base plus a low-rank change in every layer that
extraction reads, written as a real single-file checkpoint. The demo uses it so that the
Extract tab can be tried on a first run; the tests use it as the pair whose exact difference
they know."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def low_rank_change(shape: Any, rank: int, scale: float, generator: Any) -> Any:
    """A change with a decaying spectrum (σᵢ ∝ 0.6ⁱ), like fine-tuning differences have."""
    import torch

    out_features = shape[0]
    in_features = 1
    for dim in shape[1:]:
        in_features *= dim
    u = torch.linalg.qr(torch.randn(out_features, rank, generator=generator))[0]
    v = torch.linalg.qr(torch.randn(in_features, rank, generator=generator))[0]
    s = scale * 0.6 ** torch.arange(rank, dtype=torch.float32)
    return ((u * s) @ v.T).reshape(shape)


def write_changed_checkpoint(base: str | Path, out: str | Path, rank: int = 4,
                             noise: float = 1e-4, seed: int = 0, text_encoders: bool = True,
                             conv: bool = False, ranks: tuple[int, ...] = ()
                             ) -> dict[str, Any]:
    """Write base + change to `out`; return {kohya name: the exact change} (without noise).

    `ranks`: each module's change rank in turn (1, 2, 3, 1, …) instead of one `rank`, a
    fine-tune whose dynamic-rank extraction gives every module another rank."""
    import torch

    from lora_for_dummies.checkpoints.detect import detect_family
    from lora_for_dummies.checkpoints.models import resolve_configs
    from lora_for_dummies.checkpoints.reader import CheckpointFile
    from lora_for_dummies.checkpoints.write import save_state_dict
    from lora_for_dummies.lora.targets import extraction_targets

    generator = torch.Generator().manual_seed(seed)
    with CheckpointFile(base) as file:
        state = {k: file.get(k).clone() for k in file.keys()}
        metadata = dict(file.metadata)
        family = detect_family(file)
        configs = resolve_configs(file, family)
    changes = {}
    for index, target in enumerate(extraction_targets(family, configs, text_encoders, conv)):
        own_rank = ranks[index % len(ranks)] if ranks else rank
        weight = state[target.key]
        rows = weight.shape[0] // 3 if target.third is not None else weight.shape[0]
        shape = (rows, *weight.shape[1:])
        change = low_rank_change(shape, min(own_rank, *shape[:2]),
                                 float(weight.float().norm()) * 0.2, generator)
        changes[target.name] = change
        noisy = change + noise * torch.randn(shape, generator=generator) * float(
            weight.float().std())
        if target.third is not None:
            weight[target.third * rows:(target.third + 1) * rows] += noisy.to(weight.dtype)
        else:
            weight += noisy.to(weight.dtype)
    save_state_dict(state, out, metadata)
    return changes
