"""Which Flux file is this? The transformer (dev / Krea, schnell, Chroma; with or without the
`model.diffusion_model.` prefix; bf16, fp16, fp32 or fp8 weights) and its separate parts
(CLIP-L, T5-XXL, the 16-channel VAE), from key names and shapes only — instant on a 23 GB file.

Flux keeps its parts in separate files, as BFL and ComfyUI / Forge Neo distribute them:
`flux1-dev.safetensors` (the transformer), `clip_l.safetensors`, `t5xxl_fp16.safetensors` or
`t5xxl_fp8_e4m3fn.safetensors`, and `ae.safetensors`. Chroma uses T5-XXL and the same VAE, no
CLIP-L. Quantized files (GGUF, bitsandbytes nf4 / fp4, "scaled fp8") are refused in one line: their
weights cannot be trained or extracted as stored.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from lora_for_dummies.checkpoints.expected import check_expected, indexed_count
from lora_for_dummies.errors import CheckpointError
from lora_for_dummies.families.flux.architecture import (
    CHROMA,
    FLUX_DEV,
    FluxConfig,
    parameter_count,
    transformer_shapes,
)

# Where the transformer sits: BFL's own files have no prefix; ComfyUI / Forge checkpoints
# (and some fine-tunes saved from them) put it under `model.diffusion_model.`.
PREFIXES = ("", "model.diffusion_model.", "diffusion_model.")
ANCHOR = "double_blocks.0.img_attn.qkv.weight"
_NOT_YET = "is not supported yet: use the bf16 / fp8 .safetensors file"
# bitsandbytes' serialised quant state (Forge's flux1-dev-bnb-nf4 files).
_BNB = (".absmax", ".quant_map", ".quant_state", ".nested_absmax", ".nested_quant_map",
        "bitsandbytes__")
# ComfyUI's "fp8_scaled" files: per-tensor scales the weights must be multiplied by.
_SCALED_FP8 = ("scaled_fp8", ".scale_weight", ".scale_input")
_LORA = re.compile(r"(^lora_(unet|te\d?|transformer)_)|(\.(lora_down|lora_up|lora_A|lora_B)"
                   r"(\.default)?\.weight$)|(\.(hada|lokr)_w\d)")
# A Flux LoRA's modules: BFL's blocks (kohya, ComfyUI) or diffusers' (peft). Not SD's
# `…attentions_0_transformer_blocks_0…`, which also says "transformer_blocks".
_FLUX_BLOCKS = re.compile(r"double_blocks|single_blocks|single_transformer_blocks"
                          r"|^(transformer\.|lora_transformer_)transformer_blocks")


class KeyView(Protocol):
    """What recognition reads: `checkpoints.reader.CheckpointFile` is one."""

    path: Path
    metadata: dict[str, str]

    def keys(self) -> list[str]: ...
    def shape(self, key: str) -> tuple[int, ...]: ...
    def dtype(self, key: str) -> str: ...


@dataclass(frozen=True)
class FluxLayout:
    variant: str  # dev (also Krea, Kontext) | schnell | chroma
    prefix: str  # "" or "model.diffusion_model." (or "diffusion_model.")
    depth: int
    depth_single_blocks: int
    hidden_size: int
    num_heads: int
    in_channels: int
    dtype: str  # the dtype most parameters are stored in, torch's name (float8_e4m3fn, …)
    parameters: int
    has_guidance: bool
    config: FluxConfig
    other_keys: int = 0  # tensors outside the transformer (an all-in-one file's encoders, VAE)

    @property
    def title(self) -> str:
        return {"dev": "Flux.1 dev (or Krea / Kontext)", "schnell": "Flux.1 schnell",
                "chroma": "Chroma"}[self.variant]

    @property
    def fp8(self) -> bool:
        return self.dtype.startswith("float8")

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs for `inspect` and the Models tab."""
        return [
            ("Family", f"{self.title} transformer (BFL layout)"),
            ("Key prefix", self.prefix or "none (BFL's own)"),
            ("Blocks", f"{self.depth} double + {self.depth_single_blocks} single, hidden "
                       f"{self.hidden_size}, {self.num_heads} heads"),
            ("Guidance embedding", "yes (guidance_in)" if self.has_guidance else
             "no (Chroma: distilled guidance layer)" if self.variant == "chroma" else "no"),
            ("Precision", self.dtype + (" (fp8 storage)" if self.fp8 else "")),
            ("Parameters", f"{self.parameters / 1e9:.2f} B" if self.parameters >= 1e8
             else f"{self.parameters / 1e6:.2f} M"),
            ("Separate parts", "T5-XXL (t5xxl_fp16 / t5xxl_fp8_e4m3fn) and the 16-channel VAE "
                               "(ae.safetensors)" if self.variant == "chroma" else
             "CLIP-L (clip_l.safetensors), T5-XXL (t5xxl_fp16 / t5xxl_fp8_e4m3fn) and the "
             "16-channel VAE (ae.safetensors)"),
        ]


@dataclass(frozen=True)
class FluxPart:
    kind: str  # transformer | clip_l | t5xxl | vae | lora
    title: str  # one line a user reads
    dtype: str
    parameters: int
    layout: FluxLayout | None = None  # for the transformer


def _stored_dtype(view: KeyView, keys: list[str]) -> tuple[str, int]:
    """(the dtype most parameters are stored in, the parameter count) of `keys`."""
    counts: Counter[str] = Counter()
    for key in keys:
        counts[view.dtype(key)] += math.prod(view.shape(key))
    return (counts.most_common(1)[0][0] if counts else "unknown"), sum(counts.values())


def refuse_unsupported(view: KeyView) -> None:
    """A quantized file or a LoRA raises CheckpointError in one line."""
    keys = view.keys()
    name = "this is"
    if any(marker in key for key in keys for marker in _BNB):
        raise CheckpointError(view.path, f"{name} a bitsandbytes nf4 / fp4 quantized model, which "
                              f"{_NOT_YET}")
    if any(key.endswith(_SCALED_FP8) or key == "scaled_fp8" for key in keys):
        raise CheckpointError(view.path, f"{name} a \"scaled fp8\" model (weights stored with "
                              f"per-tensor scales), which {_NOT_YET}")
    if any(_LORA.search(key) for key in keys):
        flux = is_flux_lora(keys)
        raise CheckpointError(view.path, f"{name} a {'Flux ' if flux else ''}LoRA, not a base "
                              "model: put it in the Lora folder and use it in a prompt as "
                              "<lora:name:1>")


def is_flux_lora(keys: list[str]) -> bool:
    """Whether a file's keys are a LoRA of a Flux transformer (BFL or diffusers names)."""
    return any(_LORA.search(k) for k in keys) and any(_FLUX_BLOCKS.search(k) for k in keys)


def _find_prefix(keys: list[str]) -> str | None:
    for key in keys:
        if key.endswith(ANCHOR) and key[: -len(ANCHOR)] in PREFIXES:
            return key[: -len(ANCHOR)]
    return None


def _axes(head_dim: int) -> tuple[int, ...]:
    """RoPE axes summing to the head dim (BFL's (16, 56, 56) at 128); a file does not say."""
    if head_dim == FLUX_DEV.head_dim:
        return FLUX_DEV.axes_dim
    return (head_dim // 4, 3 * head_dim // 8, head_dim - head_dim // 4 - 3 * head_dim // 8)


def _config_from_file(view: KeyView, prefix: str, keys: list[str]) -> FluxConfig:
    """The config whose layout the file should hold, read from a few shapes."""
    def shape(key: str) -> tuple[int, ...]:
        if prefix + key not in present:
            raise CheckpointError(view.path, f"incomplete Flux file: {prefix + key} is missing")
        return view.shape(prefix + key)

    present = set(keys)
    hidden, in_channels = shape("img_in.weight")
    head_dim = shape("double_blocks.0.img_attn.norm.query_norm.scale")[0]
    chroma = prefix + "distilled_guidance_layer.in_proj.weight" in present
    config = replace(
        CHROMA if chroma else FLUX_DEV, hidden_size=hidden, in_channels=in_channels,
        num_heads=hidden // head_dim, axes_dim=_axes(head_dim),
        depth=indexed_count(keys, prefix + "double_blocks"),
        depth_single_blocks=indexed_count(keys, prefix + "single_blocks"),
        context_in_dim=shape("txt_in.weight")[1],
        out_channels=shape("final_layer.linear.weight")[0],
        mlp_ratio=shape("double_blocks.0.img_mlp.0.weight")[0] / hidden,
        guidance_embed=prefix + "guidance_in.in_layer.weight" in present)
    if chroma:
        width, approximator_in = shape("distilled_guidance_layer.in_proj.weight")
        layers = indexed_count(keys, prefix + "distilled_guidance_layer.layers")
        return replace(config, approximator_in=approximator_in, approximator_hidden=width,
                       approximator_layers=layers)
    return replace(config, vec_in_dim=shape("vector_in.in_layer.weight")[1])


def flux_layout(view: KeyView) -> FluxLayout | None:
    """The Flux transformer layout of a file, or None if it holds none.

    Raises CheckpointError for a quantized file, a LoRA, Chroma Radiance, a transformer in
    diffusers' layout, and a BFL-layout file with a tensor missing or of the wrong shape."""
    refuse_unsupported(view)
    keys = view.keys()
    prefix = _find_prefix(keys)
    if prefix is None:
        if any(k.startswith(("transformer_blocks.0.attn.to_q", "single_transformer_blocks."))
               for k in keys) and any(k.startswith("x_embedder.") for k in keys):
            raise CheckpointError(view.path, "this is a Flux transformer in diffusers' layout "
                                  "(transformer_blocks.N…), which is not supported yet: use the "
                                  "BFL single file (flux1-dev.safetensors layout)")
        return None
    if any(k.startswith(prefix + "nerf_") for k in keys):
        raise CheckpointError(view.path, "this is Chroma Radiance (pixel space, no VAE), which is "
                              "not supported yet")
    config = _config_from_file(view, prefix, keys)
    expected = transformer_shapes(config)
    dtype, parameters = check_expected(view, prefix, expected, f"{config.variant} Flux")
    return FluxLayout(
        variant=config.variant, prefix=prefix, depth=config.depth,
        depth_single_blocks=config.depth_single_blocks, hidden_size=config.hidden_size,
        num_heads=config.num_heads, in_channels=config.in_channels, dtype=dtype,
        parameters=parameters, has_guidance=config.guidance_embed, config=config,
        other_keys=len(keys) - len(expected))


def _open(path: str | Path):  # noqa: ANN202 — a CheckpointFile
    from lora_for_dummies.checkpoints.reader import CheckpointFile

    path = Path(path)
    if path.suffix.lower() == ".gguf":  # named so, whatever its bytes: say what it is meant to be
        raise CheckpointError(path, f"this is a GGUF file (quantized weights), which {_NOT_YET}")
    return CheckpointFile(path)  # a GGUF by its bytes is refused there (checkpoints/sniff.py)


def recognise_flux(path: str | Path) -> FluxLayout:
    """The layout of a Flux / Chroma transformer file, or CheckpointError in one line."""
    with _open(path) as view:
        layout = flux_layout(view)
    if layout is None:
        part = identify_part(path)
        raise CheckpointError(Path(path), f"this is {part.title}, not a Flux transformer")
    return layout


def identify_part(path: str | Path) -> FluxPart:
    """Name any Flux file: the transformer, CLIP-L, T5-XXL, the VAE, or a Flux LoRA."""
    with _open(path) as view:
        part = identify_view(view)
    if part is None:
        raise CheckpointError(Path(path), "not a Flux file: neither the transformer, nor CLIP-L, "
                              "T5-XXL or the Flux VAE")
    return part


def identify_view(view: KeyView) -> FluxPart | None:
    """`identify_part` of an open file; None when it is none of Flux's files."""
    try:
        layout = flux_layout(view)
    except CheckpointError as err:
        if "LoRA" not in err.reason:
            raise
        return FluxPart("lora", err.reason.removeprefix("this is "), "", 0)
    if layout is not None:
        return FluxPart("transformer", f"a {layout.title} transformer", layout.dtype,
                        layout.parameters, layout)
    return _encoder_or_vae(view)


def _encoder_or_vae(view: KeyView) -> FluxPart | None:
    keys = view.keys()
    clip = "text_model.embeddings.token_embedding.weight"
    t5 = "encoder.block.0.layer.0.SelfAttention.q.weight"
    vae = "encoder.conv_in.weight" in keys and "decoder.conv_in.weight" in keys
    if clip not in keys and t5 not in keys and not vae:
        return None  # most files (every SD checkpoint): no need to count their parameters
    dtype, parameters = _stored_dtype(view, keys)
    # (kind, anchor key, numbered blocks, what they are called, Flux's size, its name, family)
    for kind, anchor, blocks_key, unit, size, full, short in (
            ("clip_l", clip, "text_model.encoder.layers", "layers", (768, 12), "CLIP-L", "CLIP"),
            ("t5xxl", t5, "encoder.block", "blocks", (4096, 24), "T5-XXL", "T5")):
        if anchor in keys:
            width, count = view.shape(anchor)[1], indexed_count(keys, blocks_key)
            name = full if (width, count) == size else short
            extra = "" if name == full else f"; Flux's {full} has {size[1]} × {size[0]}"
            return FluxPart(kind, f"a {name} text encoder ({count} {unit}, width {width}"
                            f"{extra})", dtype, parameters)
    if vae:
        latent = view.shape("decoder.conv_in.weight")[1]
        if latent != 16:
            raise CheckpointError(view.path, f"this is a VAE with {latent} latent channels (SD "
                                  "1 / 2 / XL's); Flux needs its 16-channel ae.safetensors")
        diffusers = any(k.startswith("decoder.up_blocks.") for k in keys)
        return FluxPart("vae", "the 16-channel Flux VAE ("
                        + ("diffusers layout" if diffusers else "ae.safetensors layout") + ")",
                        dtype, parameters)
    return None


def expected_parameters(variant: str) -> int:
    """Parameters of the full-size transformer of a variant (dev: 11.9 B)."""
    from lora_for_dummies.families.flux.architecture import variant_config

    return parameter_count(transformer_shapes(variant_config(variant)))
