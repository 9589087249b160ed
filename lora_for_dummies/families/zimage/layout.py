"""Which Z-Image file is this? The transformer in native names (ComfyUI's / Forge Neo's
`z_image_turbo_bf16.safetensors`, Tongyi-MAI's own single files; with or without the
`model.diffusion_model.` prefix) or in diffusers' names (a diffusers transformer saved as one
file), and its LoRAs — from key names and shapes only, instant on a 12 GB file.

Base and Turbo have the same tensors: a file's keys cannot tell them apart, so the Models tab
says what training each needs instead of guessing. Lumina-Image 2.0 shares the architecture's
names (it is ComfyUI's NextDiT too) but has fewer key-value heads than heads, which Z-Image never
has: its fused qkv is not 3 × dim rows, and it is named and refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lora_for_dummies.checkpoints.expected import check_expected, indexed_count
from lora_for_dummies.errors import CheckpointError
from lora_for_dummies.families.zimage.architecture import (
    ZImageConfig,
    native_shapes,
)
from lora_for_dummies.families.zimage.keys import Slice, diffusers_map

PREFIXES = ("", "model.diffusion_model.", "diffusion_model.")
# The marks of each naming: the main layers' modulation is in both (diffusers' own single-file
# detector keys on it); the refiners' q / k norms are named differently.
NATIVE_ANCHOR = "noise_refiner.0.attention.k_norm.weight"
DIFFUSERS_ANCHOR = "noise_refiner.0.attention.norm_k.weight"
_LORA = re.compile(r"\.(lora_down|lora_up|lora_A|lora_B)(\.default)?\.weight$|\.(hada|lokr)_w\d")
# A Z-Image LoRA's module names: Forge Neo's / ai-toolkit's, musubi's and diffusers' alike
_ZIMAGE_MODULES = re.compile(r"(^|[._])(layers|noise_refiner|context_refiner)[._]\d+[._]"
                             r"(attention|feed_forward|adaLN)")


@dataclass(frozen=True)
class ZImageLayout:
    prefix: str
    names: str  # "native" (ComfyUI / Forge Neo / Tongyi-MAI) | "diffusers"
    config: ZImageConfig
    dtype: str
    parameters: int

    def weight(self, diffusers_key: str) -> Slice:
        """Where the diffusers tensor `diffusers_key` is in this file (its key and rows)."""
        if self.names == "diffusers":
            return Slice(self.prefix + diffusers_key)
        rows = diffusers_map(self.config)[diffusers_key]
        return Slice(self.prefix + rows.key, rows.start, rows.rows)

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs for `inspect` and the Models tab."""
        c = self.config
        names = ("native (ComfyUI / Forge Neo)" if self.names == "native" else "diffusers")
        return [("Layout", f"Z-Image transformer, {names} names"),
                ("Key prefix", self.prefix or "none"),
                ("Blocks", f"{c.n_layers} layers + {c.n_refiner_layers} noise-refiner + "
                           f"{c.n_refiner_layers} context-refiner, width {c.dim}, "
                           f"{c.n_heads} heads"),
                ("Text width", f"{c.cap_feat_dim} (Qwen3-4B's hidden states)"
                 if c.cap_feat_dim == 2560 else str(c.cap_feat_dim)),
                ("Separate parts", "the text encoder Qwen3-4B (qwen_3_4b.safetensors) and the "
                                   "16-channel Flux VAE (ae.safetensors)")]


def is_zimage_lora(keys: list[str]) -> bool:
    """Whether a file's keys are a LoRA of a Z-Image transformer (any of its namings)."""
    return any(_LORA.search(k) for k in keys) and any(_ZIMAGE_MODULES.search(k) for k in keys)


def _find(keys: list[str]) -> tuple[str, str] | None:
    for key in keys:
        for anchor, names in ((NATIVE_ANCHOR, "native"), (DIFFUSERS_ANCHOR, "diffusers")):
            if key.endswith(anchor) and key[: -len(anchor)] in PREFIXES:
                return key[: -len(anchor)], names
    return None


def _config(view: Any, prefix: str, names: str, keys: list[str]) -> ZImageConfig:
    embedder = prefix + ("x_embedder.weight" if names == "native" else "all_x_embedder.2-1.weight")
    if embedder not in keys:
        raise CheckpointError(view.path, f"{embedder} is missing: not a Z-Image transformer of "
                              "patch size 2 (the only one Z-Image has)")
    dim, patch_channels = view.shape(embedder)
    norm = prefix + ("layers.0.attention.k_norm.weight" if names == "native"
                     else "layers.0.attention.norm_k.weight")
    head_dim = view.shape(norm)[0] if norm in keys else 128
    cap = prefix + "cap_embedder.1.weight"
    config = ZImageConfig(dim=dim, n_layers=indexed_count(keys, prefix + "layers"),
                          n_refiner_layers=indexed_count(keys, prefix + "noise_refiner"),
                          n_heads=max(1, dim // head_dim),
                          cap_feat_dim=view.shape(cap)[1] if cap in keys else 2560,
                          in_channels=patch_channels // 4)
    qkv = prefix + ("layers.0.attention.qkv.weight" if names == "native"
                    else "layers.0.attention.to_k.weight")
    rows = view.shape(qkv)[0] if qkv in keys else 0
    if rows != (3 * dim if names == "native" else dim):
        raise CheckpointError(view.path, "this is a NextDiT with fewer key-value heads than heads "
                              "(Lumina-Image 2.0), which is not supported; Z-Image is")
    return config


def zimage_layout(view: Any) -> ZImageLayout | None:
    """The Z-Image layout of an open file (`checkpoints.reader.CheckpointFile`), or None if it
    holds none. Raises CheckpointError for a Z-Image LoRA, a Lumina 2 file, and a file with a
    tensor missing or of the wrong shape."""
    keys = view.keys()
    found = _find(keys)
    if found is None:
        return None
    if any(_LORA.search(k) for k in keys):
        raise CheckpointError(view.path, "this is a Z-Image LoRA, not a base model")
    prefix, names = found
    config = _config(view, prefix, names, keys)
    expected = native_shapes(config)
    if names == "diffusers":
        expected = {name: _rows_shape(expected, rows) for name, rows in
                    diffusers_map(config).items()}
    dtype, parameters = check_expected(view, prefix, expected, "Z-Image")
    return ZImageLayout(prefix, names, config, dtype, parameters)


def _rows_shape(native: dict[str, tuple[int, ...]], rows: Slice) -> tuple[int, ...]:
    shape = native[rows.key]
    return shape if rows.rows is None else (rows.rows, *shape[1:])


def recognise_zimage(path: Any) -> ZImageLayout:
    """The layout of a Z-Image transformer file, or CheckpointError in one line."""
    from pathlib import Path

    from lora_for_dummies.checkpoints.reader import CheckpointFile

    with CheckpointFile(Path(path)) as view:
        layout = zimage_layout(view)
    if layout is None:
        raise CheckpointError(Path(path), "not a Z-Image transformer")
    return layout
