"""Which Anima file is this? The DiT with its LLM adapter (official `net.` prefix, ComfyUI's /
Forge Neo's `diffusion_model.` or `model.diffusion_model.`, or none), and its LoRAs — from key
names and shapes only. A Cosmos-Predict2 DiT without the adapter is named and refused (Anima is
that DiT trained with the adapter's conditioning)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lora_for_dummies.checkpoints.expected import check_expected, indexed_count
from lora_for_dummies.errors import CheckpointError
from lora_for_dummies.families.anima.architecture import AnimaConfig, native_shapes

PREFIXES = ("", "net.", "diffusion_model.", "model.diffusion_model.")
ANCHOR = "blocks.0.adaln_modulation_cross_attn.1.weight"  # Cosmos-Predict2's blocks
ADAPTER = "llm_adapter.out_proj.weight"
# kohya's `lora_unet_blocks_N_…` and ComfyUI's `diffusion_model.blocks.N.…` LoRA names
_LORA = re.compile(r"\.(lora_down|lora_up|lora_A|lora_B)(\.default)?\.weight$|\.(hada|lokr)_w\d")
_ANIMA_MODULES = re.compile(r"blocks[._]\d+[._](self_attn|cross_attn|mlp|adaln_modulation)")


@dataclass(frozen=True)
class AnimaLayout:
    prefix: str
    config: AnimaConfig
    dtype: str
    parameters: int

    def rows(self) -> list[tuple[str, str]]:
        c = self.config
        return [("Layout", "Anima DiT (Cosmos-Predict2 MiniTrainDIT) with its LLM adapter"),
                ("Key prefix", self.prefix or "none"),
                ("Blocks", f"{c.blocks} blocks, width {c.dim}, {c.heads} heads; adapter "
                           f"{c.adapter_blocks} blocks of width {c.adapter_dim}"),
                ("Separate parts", "the text encoder Qwen3-0.6B (qwen_3_06b.safetensors) and the "
                                   "Qwen-Image VAE (qwen_image_vae.safetensors); T5's tokenizer "
                                   "only")]


def is_anima_lora(keys: list[str]) -> bool:
    """Whether a file's keys are a LoRA of an Anima DiT (kohya's or ComfyUI's names)."""
    return any(_LORA.search(k) for k in keys) and any(_ANIMA_MODULES.search(k) for k in keys) \
        and not any("double_blocks" in k or "transformer_blocks" in k for k in keys)


def anima_layout(view: Any) -> AnimaLayout | None:
    """The Anima layout of an open file, or None if it holds none. Raises CheckpointError for a
    Cosmos-Predict2 DiT without the adapter, and a file with a tensor missing or misshapen."""
    keys = view.keys()
    prefix = next((k[: -len(ANCHOR)] for k in keys
                   if k.endswith(ANCHOR) and k[: -len(ANCHOR)] in PREFIXES), None)
    if prefix is None:
        return None
    if prefix + ADAPTER not in keys:
        raise CheckpointError(view.path, "this is a Cosmos-Predict2 DiT without Anima's LLM "
                              "adapter, which is not supported; Anima is")
    dim = view.shape(prefix + "blocks.0.self_attn.q_proj.weight")[0]
    head_dim = view.shape(prefix + "blocks.0.self_attn.q_norm.weight")[0]
    adapter_dim = view.shape(prefix + ADAPTER)[0]
    adapter_head = view.shape(prefix + "llm_adapter.blocks.0.self_attn.q_norm.weight")[0]
    config = AnimaConfig(
        dim=dim, blocks=indexed_count(keys, prefix + "blocks"), heads=dim // head_dim,
        context_dim=view.shape(prefix + "blocks.0.cross_attn.k_proj.weight")[1],
        adaln_rank=view.shape(prefix + "blocks.0.adaln_modulation_mlp.1.weight")[0],
        latent_channels=view.shape(prefix + "final_layer.linear.weight")[0] // 4,
        adapter_dim=adapter_dim, adapter_blocks=indexed_count(keys, prefix + "llm_adapter.blocks"),
        adapter_heads=adapter_dim // adapter_head,
        adapter_vocab=view.shape(prefix + "llm_adapter.embed.weight")[0])
    dtype, parameters = check_expected(view, prefix, native_shapes(config), "Anima")
    return AnimaLayout(prefix, config, dtype, parameters)


def recognise_anima(path: Any) -> AnimaLayout:
    """The layout of an Anima DiT file, or CheckpointError in one line."""
    from pathlib import Path

    from lora_for_dummies.checkpoints.reader import CheckpointFile

    with CheckpointFile(Path(path)) as view:
        layout = anima_layout(view)
    if layout is None:
        raise CheckpointError(Path(path), "not an Anima DiT")
    return layout
