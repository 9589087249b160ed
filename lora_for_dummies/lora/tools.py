"""Salvage tools for LoRA files: rescale ("it's fried"), resize the rank, merge, inspect."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from lora_for_dummies import messages as msg
from lora_for_dummies.errors import UserError
from lora_for_dummies.lora.format import LoraModule, is_finite, load_lora, save_lora
from lora_for_dummies.lora.lowrank import RankRule, factorize
from lora_for_dummies.ranges import check_value

PART_PREFIXES = {"lora_unet_": "unet", "lora_te1_": "text_encoder_1", "lora_te2_": "text_encoder_2",
                 "lora_te_": "text_encoder", "diffusion_model.": "unet"}


def part_of(name: str) -> str:
    for prefix, part in PART_PREFIXES.items():
        if name.startswith(prefix):
            return part
    return "unknown"


def rescale(modules: dict[str, Any], factor: float) -> dict[str, Any]:
    """Bake a strength into the file: the LoRA at 1.0 then acts like the old one at `factor`.
    Modules of any kind (`load_modules`) whose change is proportional to a factor: LoRA,
    LoHa, LoKr, full; a DoRA file is refused (its plug-in says why)."""
    from lora_for_dummies.lora.kinds import KindModule, plugin

    check_value("rescale.factor", factor, "the strength factor")
    out: dict[str, Any] = {}
    for name, m in modules.items():
        if isinstance(m, LoraModule):
            out[name] = LoraModule(m.down, m.up * factor, m.alpha)
            continue
        kind = plugin(m.kind)
        if kind.scaled is None:
            raise msg.DORA_NOT_RESCALABLE.error(kind=kind.KIND.label)
        out[name] = KindModule(m.kind, kind.scaled(m.tensors, factor), m.alpha)
    return out


def _refactor(delta: Any, down_shape: Any, rule: RankRule) -> tuple[LoraModule, float]:
    factors = factorize(delta.flatten(1), rule)
    rank = factors.down.shape[0]
    down, up = factors.down, factors.up
    if len(down_shape) == 4:
        down = down.reshape(rank, *down_shape[1:])
        up = up.reshape(delta.shape[0], rank, 1, 1)
    return LoraModule(down, up, float(rank)), factors.relative_error


def resize(modules: dict[str, LoraModule], rule: RankRule) -> tuple[dict[str, LoraModule],
                                                                    dict[str, float]]:
    """New ranks by the same fixed/dynamic rules as extraction; returns per-module errors.

    No module gets a rank above its source's: a rank-16 delta holds 16 directions, so a higher
    rank only stores zeros (a bigger file, nothing gained). `capped_modules` says which."""
    rule.validate()
    resized, errors = {}, {}
    for name, module in modules.items():
        own = replace(rule, rank=min(rule.rank, module.rank))
        resized[name], errors[name] = _refactor(module.delta(), tuple(module.down.shape), own)
    return resized, errors


def capped_note(modules: dict[str, LoraModule], rank: int) -> str:
    """One line for a resize whose rank is above some modules' own (kept at theirs)."""
    capped = sorted({m.rank for m in modules.values() if m.rank < rank})
    if not capped:
        return ""
    count = sum(1 for m in modules.values() if m.rank < rank)
    return (f"{count} of {len(modules)} modules kept their own rank "
            f"({', '.join(map(str, capped))}): a resize cannot raise a LoRA's rank above the "
            f"one it was made with, so rank {rank} only lowers the others")


def merge(loras: list[dict[str, LoraModule]], weights: list[float],
          rule: RankRule | None = None) -> dict[str, LoraModule]:
    """Weighted sum of LoRAs. Exact (ranks concatenated) without `rule`, else re-factored."""
    import torch

    if len(loras) != len(weights) or not loras:
        raise UserError("give one weight per LoRA")
    for index, weight in enumerate(weights, start=1):
        check_value("merge.weight", weight, f"weight {index}")
    merged: dict[str, LoraModule] = {}
    for name in sorted({n for lora in loras for n in lora}):
        parts = [(lora[name], w) for lora, w in zip(loras, weights, strict=True) if name in lora]
        shapes = {tuple(m.delta().shape) for m, _ in parts}
        if len(shapes) > 1:
            raise UserError(f"{name}: the LoRAs were made for different models (shapes differ)")
        if rule is None:
            ups = [m.up.float() * (w * m.scale) for m, w in parts]
            downs = [m.down.float() for m, _ in parts]
            up, down = torch.cat(ups, dim=1), torch.cat(downs, dim=0)
            merged[name] = LoraModule(down, up, float(down.shape[0]))
        else:
            delta = sum(m.delta() * w for m, w in parts)
            merged[name] = _refactor(delta, tuple(parts[0][0].down.shape), rule)[0]
    return merged


@dataclass
class LoraInfo:
    file: str
    modules: int
    parts: dict[str, int]
    ranks: list[int]
    alphas: list[float]
    base_model_version: str
    metadata: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)  # {"LoRA": 192, "LoCon": 22}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _lycoris_info(path: Path, found: dict[str, Any], metadata: dict[str, str],
                  alphas: list[float]) -> LoraInfo:
    """A file holding kinds beyond LoRA / LoCon (LoHa, LoKr, DoRA, full): described, not read
    as a LoRA (the tools refuse it by name)."""
    from lora_for_dummies.lora.kinds import kinds_line

    ranks = sorted({r for kind, shapes in found.values() if (r := kind.rank(shapes))})
    counts = kinds_line(found)
    whats = {kind.label_for(shapes): kind.what for kind, shapes in found.values()}
    warnings = [f"{label}: {whats[label]}" for label in counts]
    warnings.append("resize, merge and convert work on LoRA and LoCon files, rescale on every kind "
                    "but DoRA; this file loads in the webuis (A1111, Forge, Forge Neo) and "
                    "ComfyUI as it is")
    for kind in {kind.key: kind for kind, _ in found.values()}.values():
        if kind.not_in_diffusers:
            warnings.append(f"diffusers cannot apply its {kind.label} modules: "
                            f"{kind.not_in_diffusers}")
    return LoraInfo(path.name, len(found), _parts(found), ranks, alphas,
                    metadata.get("ss_base_model_version", "unknown"), _shown(metadata),
                    warnings, counts)


def _parts(names: Any) -> dict[str, int]:
    parts: dict[str, int] = {}
    for name in names:
        parts[part_of(name)] = parts.get(part_of(name), 0) + 1
    return parts


def _shown(metadata: dict[str, str]) -> dict[str, str]:
    """The metadata lora-info shows: sorted, without the long blobs (tag frequencies …)."""
    return {k: v for k, v in sorted(metadata.items()) if len(v) < 300}


def lora_info(path: str | Path) -> LoraInfo:
    from lora_for_dummies.checkpoints.reader import CheckpointFile
    from lora_for_dummies.lora.kinds import file_kinds, kinds_line, unhandled

    with CheckpointFile(path) as file:  # one header read: shapes, kinds, alphas
        shapes = {k: file.shape(k) for k in file.keys()}
        found = file_kinds(shapes)
        counts = kinds_line(found)
        if unhandled(counts):
            alphas = sorted({float(file.get(k).item()) for k in shapes
                             if k.endswith(".alpha") and not shapes[k][1:]})
            return _lycoris_info(Path(path), found, dict(file.metadata), alphas)
    modules, metadata = load_lora(path)
    parts = _parts(modules)
    warnings = []
    if not metadata:
        warnings.append("no metadata: the webui may hide it for some models (it cannot tell "
                        "which base model it is for)")
    no_alpha = [n for n in modules if n + ".alpha" not in shapes]
    if no_alpha:
        warnings.append(f"{len(no_alpha)} modules have no alpha (read as alpha = rank)")
    bad = [n for n, m in modules.items() if not is_finite(m)]
    if bad:
        warnings.append(f"{len(bad)} modules contain NaN or infinity, e.g. {bad[0]}: the LoRA "
                        "is broken")
    mismatched = [n for n, m in modules.items() if m.up.dim() < 2 or m.down.dim() < 1
                  or m.up.shape[1] != m.down.shape[0]]
    if mismatched:
        name = mismatched[0]
        warnings.append(f"{len(mismatched)} modules have lora_up and lora_down of different "
                        f"ranks, e.g. {name}: up {list(modules[name].up.shape)}, down "
                        f"{list(modules[name].down.shape)}: the LoRA is broken")
    bad_alpha = [n for n, m in modules.items() if not (math.isfinite(m.alpha) and m.alpha > 0)]
    if bad_alpha:
        warnings.append(f"{len(bad_alpha)} modules have an alpha that is not a positive number, "
                        f"e.g. {bad_alpha[0]}: alpha {modules[bad_alpha[0]].alpha:g}")
    alphas = sorted({m.alpha for m in modules.values() if math.isfinite(m.alpha)})
    if len(alphas) > 1:  # what every writer of ours now avoids (format.one_alpha says why)
        warnings.append(f"{len(alphas)} different alphas ({', '.join(f'{a:g}' for a in alphas[:6])}"
                        f"{', …' if len(alphas) > 6 else ''}): diffusers' load_lora_weights "
                        "applies some modules at the wrong strength (the webuis, ComfyUI and "
                        "kohya do not). Re-save for diffusers: rescale it at 1 (Extract tab → "
                        "LoRA tools, or `lfd rescale <file> 1 --output <new file>`); the new "
                        "file has one alpha and the same effect")
    if "text_encoder" not in parts and "text_encoder_1" not in parts \
            and _trains_text_encoder(metadata.get("ss_base_model_version", "")):
        warnings.append("no text-encoder part")
    ranks = sorted({m.rank for m in modules.values()})
    return LoraInfo(Path(path).name, len(modules), parts, ranks,
                    sorted({m.alpha for m in modules.values()}),
                    metadata.get("ss_base_model_version", "unknown"), _shown(metadata), warnings,
                    counts)


def _trains_text_encoder(base_model_version: str) -> bool:
    """Whether LoRAs of the family with this `ss_base_model_version` may hold a text-encoder
    part (Flux's and Z-Image's never do: their families keep the encoders frozen)."""
    from lora_for_dummies.families import family_of_lora

    family = family_of_lora(base_model_version)
    return family is None or family.train_overrides.get("network.train_text_encoder", True)


def save_like(path: str | Path, modules: dict[str, Any], source_metadata: dict[str, str],
              note: str, overwrite: bool = False) -> Path:
    """Save a tool's result keeping the source's metadata, with the operation noted."""
    import torch

    metadata = {k: v for k, v in source_metadata.items() if not k.startswith("sshs_")}
    ranks = sorted({m.rank for m in modules.values() if m.rank})  # full / whole LoKr: none
    if ranks:
        metadata["ss_network_dim"] = str(ranks[-1])
    metadata["ss_output_name"] = Path(path).stem
    metadata["modelspec.title"] = Path(path).stem
    previous = metadata.get("ss_training_comment", "")
    metadata["ss_training_comment"] = (previous + "; " if previous else "") + note
    return save_lora(path, modules, metadata, dtype=torch.float16, overwrite=overwrite)
