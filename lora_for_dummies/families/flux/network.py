"""A Flux LoRA's modules: trained on diffusers' FluxTransformer2DModel (split q / k / v), saved
on BFL's modules (fused) with kohya's names.

BFL's `img_attn.qkv` is diffusers' `to_q`, `to_k`, `to_v` stacked by rows; a single block's
`linear1` stacks q, k, v and the MLP's input. The LoRA of the fused module is exact: its down
is the parts' downs stacked ((k·r) × in), its up holds each part's up in that part's rows and
own rank columns (a block-diagonal, out × (k·r)), and its alpha is k·α so that alpha / rank —
the strength every loader applies — stays α / r. What each loader then does with the file is
`keys.split_delta` (diffusers) or a plain add (ComfyUI, Forge Neo, kohya).
"""

from __future__ import annotations

from typing import Any

from lora_for_dummies.errors import UserError


def bfl_config(diffusers_config: Any) -> Any:
    """The BFL `FluxConfig` of a FluxTransformer2DModel's config."""
    from lora_for_dummies.families.flux.architecture import FluxConfig

    c = diffusers_config
    get = c.get if isinstance(c, dict) else lambda k, d=None: getattr(c, k, d)
    heads, head_dim = get("num_attention_heads"), get("attention_head_dim")
    return FluxConfig(hidden_size=heads * head_dim, num_heads=heads, depth=get("num_layers"),
                      depth_single_blocks=get("num_single_layers"),
                      in_channels=get("in_channels"),
                      out_channels=get("out_channels") or get("in_channels"),
                      vec_in_dim=get("pooled_projection_dim"),
                      context_in_dim=get("joint_attention_dim"),
                      axes_dim=tuple(get("axes_dims_rope")),
                      guidance_embed=bool(get("guidance_embeds")))


def _parts(config: Any, modulation: bool) -> dict[str, list[tuple[str, Any]]]:
    """{BFL module: [(diffusers module, its Slice)]} of the trained set, in row order."""
    from lora_for_dummies.families.flux.keys import diffusers_map, flux_targets

    targets = {t.key for t in flux_targets(config, modulation=modulation)}
    parts: dict[str, list[tuple[str, Any]]] = {}
    for key, where in diffusers_map(config).items():
        if key.endswith(".weight") and where.key in targets:
            parts.setdefault(where.key[: -len(".weight")], []).append(
                (key[: -len(".weight")], where))
    for pieces in parts.values():
        pieces.sort(key=lambda piece: piece[1].start)
    return parts


def transformer_targets(model: Any, modulation: bool = False) -> list[str]:
    """The diffusers modules a Flux LoRA trains: the Linear layers of the double and single
    blocks (their modulation too with `modulation`; kohya's `*_mod_dim` excludes them)."""
    config = bfl_config(model.config)
    return [name for pieces in _parts(config, modulation).values() for name, _ in pieces]


def fused_modules(modules: dict[str, Any], denoiser_config: dict[str, Any],
                  modulation: bool = False) -> dict[str, Any]:
    """{kohya name of a BFL module: LoraModule} from trained diffusers `modules`."""
    import torch

    from lora_for_dummies.families.flux.keys import kohya_name
    from lora_for_dummies.lora.format import LoraModule

    config = bfl_config(denoiser_config)
    fused = {}
    for bfl, pieces in _parts(config, True).items():
        trained = [(name, where) for name, where in pieces if name in modules]
        if not trained:
            continue
        if len(trained) != len(pieces):
            raise UserError(f"{bfl}: only some of its parts were trained; a fused module needs "
                            "all of them")
        first = modules[trained[0][0]]
        rank, alpha = first.rank, first.alpha
        out_rows = sum(modules[n].up.shape[0] for n, _ in trained)
        down = torch.cat([modules[n].down for n, _ in trained], dim=0)
        up = torch.zeros(out_rows, rank * len(trained), dtype=first.up.dtype)
        for index, (name, where) in enumerate(trained):
            part = modules[name]
            if part.rank != rank or part.alpha != alpha:
                raise UserError(f"{bfl}: its parts have different ranks or alphas")
            rows = part.up.shape[0]
            up[where.start:where.start + rows, index * rank:(index + 1) * rank] = part.up
        fused[kohya_name(bfl)] = LoraModule(down, up, alpha * len(trained))
    return fused
