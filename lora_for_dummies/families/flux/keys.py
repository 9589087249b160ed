"""Flux LoRA names and the BFL ⇄ diffusers map: the one place that decides what a Flux LoRA key
is called and which diffusers weight holds which rows of a BFL weight.

kohya's target set, read from kohya-ss/sd-scripts `networks/lora_flux.py`, branch sd3 (commit
3265f2edfbb80d393a495ff5e37e3e89e7545492, merged into main as 48d368fa): `LoRANetwork` adapts
every `Linear` inside a `DoubleStreamBlock` or `SingleStreamBlock` and names it
`lora_unet_<BFL module, . → _>` ("make ComfyUI compatible"). That includes the modulation layers
(`img_mod.lin`, `txt_mod.lin`, `modulation.lin`): kohya leaves them out only when asked
(`img_mod_dim=0`, `txt_mod_dim=0`, `single_mod_dim=0`). The embedders (`img_in`, `time_in`,
`vector_in`, `guidance_in`, `txt_in`) are adapted only with `in_dims`; `final_layer` and Chroma's
`distilled_guidance_layer` never. CLIP-L is `lora_te1_`, T5-XXL `lora_te3_`.

diffusers' `FluxTransformer2DModel` splits what BFL fuses: `img_attn.qkv` is `attn.to_q/to_k/
to_v`, `txt_attn.qkv` is `attn.add_q_proj/…`, `single_blocks.N.linear1` is `attn.to_q/to_k/to_v`
+ `proj_mlp` (rows 0:h, h:2h, 2h:3h, 3h:), and `final_layer.adaLN_modulation.1` is stored
(shift, scale) where diffusers' `norm_out.linear` wants (scale, shift). A LoRA delta of a fused
weight is therefore split by rows the same way. diffusers' own
`single_file_utils.convert_flux_transformer_checkpoint_to_diffusers` (0.31, 0.37 and 0.42 alike)
and its kohya LoRA converter hard-code the full-size width (3072, MLP 12288), so a smaller model
needs this map; a test checks it against diffusers' converter at full size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lora_for_dummies.families.flux.architecture import FluxConfig, transformer_shapes

KOHYA_PREFIX = "lora_unet_"
TEXT_PREFIXES = {"clip_l": "lora_te1_", "t5xxl": "lora_te3_"}
_BLOCK = re.compile(r"^(double_blocks|single_blocks)\.\d+\.")
_MODULATION = re.compile(r"(_mod\.lin|\.modulation\.lin)$")
_EMBEDDERS = ("img_in", "txt_in", "time_in.", "vector_in.", "guidance_in.")


@dataclass(frozen=True)
class FluxTarget:
    module: str  # BFL module path: double_blocks.0.img_attn.qkv
    name: str  # kohya LoRA name: lora_unet_double_blocks_0_img_attn_qkv
    key: str  # its weight, without the file's prefix
    shape: tuple[int, ...]  # (out, in)


def kohya_name(module: str) -> str:
    """`lora_unet_<BFL module, . → _>`, as kohya, ComfyUI and Forge Neo name a Flux LoRA."""
    return KOHYA_PREFIX + module.replace(".", "_")


def flux_targets(config: FluxConfig, modulation: bool = True, embedders: bool = False
                 ) -> list[FluxTarget]:
    """The Linear layers a Flux LoRA adapts: kohya's default set (every Linear of the double
    and single blocks, modulation included); `modulation=False` is kohya's `*_mod_dim=0`,
    `embedders=True` its `in_dims` (img_in, time_in, vector_in, guidance_in, txt_in)."""
    targets = []
    for key, shape in transformer_shapes(config).items():
        if not key.endswith(".weight") or len(shape) != 2:
            continue
        module = key[: -len(".weight")]
        in_block = _BLOCK.match(module) is not None
        if in_block and (modulation or not _MODULATION.search(module)) \
                or embedders and module.startswith(_EMBEDDERS):
            targets.append(FluxTarget(module, kohya_name(module), key, shape))
    return targets


# -- BFL ⇄ diffusers -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Slice:
    """Where a diffusers tensor lives in the BFL file: rows [start, start + rows) of `key`
    (rows None: the whole tensor); `swap`: its two halves exchanged."""

    key: str
    start: int = 0
    rows: int | None = None
    swap: bool = False


def _params(diffusers_module: str, bfl_module: str, table: dict[str, Slice],
            start: int = 0, rows: int | None = None, swap: bool = False) -> None:
    for end in ("weight", "bias"):
        table[f"{diffusers_module}.{end}"] = Slice(f"{bfl_module}.{end}", start, rows, swap)


def diffusers_map(config: FluxConfig) -> dict[str, Slice]:
    """{diffusers FluxTransformer2DModel key: its Slice of a BFL key} for a Flux (not Chroma)
    transformer."""
    if config.chroma:
        raise ValueError("Chroma has its own diffusers model (ChromaTransformer2DModel); this "
                         "map is Flux.1's")
    h, table = config.hidden_size, {}
    basic = {"x_embedder": "img_in", "context_embedder": "txt_in", "proj_out": "final_layer.linear",
             "time_text_embed.timestep_embedder.linear_1": "time_in.in_layer",
             "time_text_embed.timestep_embedder.linear_2": "time_in.out_layer",
             "time_text_embed.text_embedder.linear_1": "vector_in.in_layer",
             "time_text_embed.text_embedder.linear_2": "vector_in.out_layer"}
    if config.guidance_embed:
        basic.update({"time_text_embed.guidance_embedder.linear_1": "guidance_in.in_layer",
                      "time_text_embed.guidance_embedder.linear_2": "guidance_in.out_layer"})
    for ours, bfl in basic.items():
        _params(ours, bfl, table)
    _params("norm_out.linear", "final_layer.adaLN_modulation.1", table, swap=True)
    for i in range(config.depth):
        d, b = f"transformer_blocks.{i}", f"double_blocks.{i}"
        for offset, (img, txt) in enumerate((("to_q", "add_q_proj"), ("to_k", "add_k_proj"),
                                             ("to_v", "add_v_proj"))):
            _params(f"{d}.attn.{img}", f"{b}.img_attn.qkv", table, offset * h, h)
            _params(f"{d}.attn.{txt}", f"{b}.txt_attn.qkv", table, offset * h, h)
        for ours, bfl in {"attn.to_out.0": "img_attn.proj", "attn.to_add_out": "txt_attn.proj",
                          "norm1.linear": "img_mod.lin", "norm1_context.linear": "txt_mod.lin",
                          "ff.net.0.proj": "img_mlp.0", "ff.net.2": "img_mlp.2",
                          "ff_context.net.0.proj": "txt_mlp.0",
                          "ff_context.net.2": "txt_mlp.2"}.items():
            _params(f"{d}.{ours}", f"{b}.{bfl}", table)
        for ours, bfl in {"norm_q": "img_attn.norm.query_norm", "norm_k": "img_attn.norm.key_norm",
                          "norm_added_q": "txt_attn.norm.query_norm",
                          "norm_added_k": "txt_attn.norm.key_norm"}.items():
            table[f"{d}.attn.{ours}.weight"] = Slice(f"{b}.{bfl}.scale")
    for i in range(config.depth_single_blocks):
        d, b = f"single_transformer_blocks.{i}", f"single_blocks.{i}"
        for offset, part in enumerate(("attn.to_q", "attn.to_k", "attn.to_v")):
            _params(f"{d}.{part}", f"{b}.linear1", table, offset * h, h)
        _params(f"{d}.proj_mlp", f"{b}.linear1", table, 3 * h, config.mlp_hidden)
        _params(f"{d}.proj_out", f"{b}.linear2", table)
        _params(f"{d}.norm.linear", f"{b}.modulation.lin", table)
        table[f"{d}.attn.norm_q.weight"] = Slice(f"{b}.norm.query_norm.scale")
        table[f"{d}.attn.norm_k.weight"] = Slice(f"{b}.norm.key_norm.scale")
    return table


def _cut(tensor: Any, where: Slice) -> Any:
    if where.rows is not None:
        tensor = tensor.narrow(0, where.start, where.rows)
    if where.swap:
        import torch

        first, second = tensor.chunk(2, dim=0)
        tensor = torch.cat([second, first], dim=0)
    return tensor


def bfl_to_diffusers(state: dict[str, Any], config: FluxConfig, prefix: str = ""
                     ) -> dict[str, Any]:
    """A BFL-layout state dict (keys under `prefix`) as FluxTransformer2DModel's state dict."""
    return {ours: _cut(state[prefix + where.key], where)
            for ours, where in diffusers_map(config).items()}


def diffusers_to_bfl(state: dict[str, Any], config: FluxConfig) -> dict[str, Any]:
    """The inverse: diffusers weights back into BFL's fused tensors."""
    import torch

    pieces: dict[str, list[tuple[int, Any]]] = {}
    for ours, where in diffusers_map(config).items():
        tensor = state[ours]
        if where.swap:  # its own inverse
            tensor = _cut(tensor, Slice(ours, swap=True))
        pieces.setdefault(where.key, []).append((where.start, tensor))
    return {key: torch.cat([t for _, t in sorted(parts, key=lambda p: p[0])], dim=0)
            for key, parts in pieces.items()}


def diffusers_config(config: FluxConfig) -> dict[str, Any]:
    """The FluxTransformer2DModel config of a BFL config (patch 1: BFL packs 2×2 latents
    into its 64 input channels before `img_in`)."""
    config_out = {} if config.out_channels == config.in_channels else \
        {"out_channels": config.out_channels}  # diffusers 0.31 has no such argument
    return {"patch_size": 1, "in_channels": config.in_channels, **config_out,
            "num_layers": config.depth,
            "num_single_layers": config.depth_single_blocks,
            "attention_head_dim": config.head_dim, "num_attention_heads": config.num_heads,
            "joint_attention_dim": config.context_in_dim,
            "pooled_projection_dim": config.vec_in_dim,
            "guidance_embeds": config.guidance_embed, "axes_dims_rope": list(config.axes_dim)}


def split_delta(module: str, delta: Any, config: FluxConfig) -> dict[str, Any]:
    """{diffusers module: its rows of a BFL module's weight change} — what a loader that
    splits the fused q/k/v (+ MLP) must add to each diffusers weight."""
    key = module + ".weight"
    return {ours[: -len(".weight")]: _cut(delta, where)
            for ours, where in diffusers_map(config).items()
            if where.key == key and ours.endswith(".weight")}


# -- extraction ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExtractionPair:
    name: str  # kohya LoRA name
    base_key: str  # the weight in the base file (with that file's prefix)
    tuned_key: str  # the weight in the fine-tuned file (its prefix may differ)
    shape: tuple[int, ...]


def extraction_pairs(base: Any, tuned: Any, modulation: bool = True) -> list[ExtractionPair]:
    """The 2-D Linear weights an extraction factorises, for two `layout.FluxLayout`s: kohya's
    default target set (`modulation=False`: without the modulation layers). Raises UserError
    when the two are not the same model (variant and sizes)."""
    from lora_for_dummies.errors import UserError

    if base.config != tuned.config:
        raise UserError(f"the base is a {base.title} transformer ({base.depth} + "
                        f"{base.depth_single_blocks} blocks, hidden {base.hidden_size}) but the "
                        f"fine-tune is a {tuned.title} ({tuned.depth} + "
                        f"{tuned.depth_single_blocks}, hidden {tuned.hidden_size}): both must "
                        "be the same model")
    return [ExtractionPair(t.name, base.prefix + t.key, tuned.prefix + t.key, t.shape)
            for t in flux_targets(base.config, modulation=modulation)]
