"""A Flux LoRA's modules: trained on diffusers' FluxTransformer2DModel (split q / k / v), saved
on BFL's modules (fused) with kohya's names — the LoRA kohya's `networks/lora_flux.py` trains.

BFL's `img_attn.qkv` is diffusers' `to_q`, `to_k`, `to_v` stacked by rows; a single block's
`linear1` stacks q, k, v and the MLP's input. kohya puts one rank-r LoRA on the fused module:
one down (r × in) shared by the parts, one up whose rows are the parts'. Here the parts' downs
are one tensor (`tie_downs`: the same parameter, trained by all of them), so the fused module
is exactly (down, the parts' ups stacked, α): every module of the file has rank r and alpha α,
which every loader reads alike — diffusers before 0.42 misapplies a file of mixed ranks.
What each loader then does is `keys.split_delta` (diffusers) or a plain add (ComfyUI, Forge
Neo, kohya).
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


def tie_downs(model: Any, adapter: str, modulation: bool = False) -> None:
    """Make the parts of each fused BFL module share one LoRA down (their first part's)."""
    config = bfl_config(model.config)
    for pieces in _parts(config, modulation).values():
        first = model.get_submodule(pieces[0][0]).lora_A[adapter]
        for name, _ in pieces[1:]:
            model.get_submodule(name).lora_A[adapter].weight = first.weight


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
        for name, _ in trained[1:]:
            part = modules[name]
            if part.alpha != first.alpha or not torch.equal(part.down, first.down):
                raise UserError(f"{bfl}: its parts do not share one LoRA down (`tie_downs`)")
        up = torch.cat([modules[name].up for name, _ in trained], dim=0)  # in row order
        fused[kohya_name(bfl)] = LoraModule(first.down, up, first.alpha)
    return fused
