"""Z-Image LoRA names and the native ⇄ diffusers map: the one place that decides what a Z-Image
LoRA key is called and which rows of which native weight it changes.

The file format is the one Forge Neo's and ComfyUI's loader take and ai-toolkit writes:
`diffusion_model.<diffusers module>.lora_A.weight` / `.lora_B.weight` (+ `.alpha`), q / k / v
split as diffusers names them (`attention.to_q`, `to_k`, `to_v`). ComfyUI (v0.3.77
`comfy/utils.py` `z_image_to_diffusers`, vendored in Forge Neo as
`modules_forge/packages/comfy/utils.py`) maps each diffusers name onto the native one: `to_q` /
`to_k` / `to_v` onto rows 0:dim, dim:2·dim, 2·dim:3·dim of the fused `attention.qkv`,
`attention.to_out.0` onto `attention.out`, `all_x_embedder.2-1` onto `x_embedder`,
`all_final_layer.2-1.*` onto `final_layer.*`, the rest unchanged — the map `native_slice` states.
diffusers' own single-file converter (`convert_z_image_transformer_checkpoint_to_diffusers`) is
the same map the other way (tests check both).

Which modules a LoRA adapts: training follows musubi-tuner's `networks/lora_zimage.py` (every
Linear of the 30 main `layers`: attention q / k / v / out and the feed-forward's w1 / w2 / w3;
not the modulation, the refiners, the embedders or the final layer); an extraction takes every
Linear of every block (the refiners and the modulation too), as the Flux extraction does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lora_for_dummies.families.zimage.architecture import (
    BLOCK_GROUPS,
    ZImageConfig,
    native_shapes,
)

LORA_PREFIX = "diffusion_model."
# native → diffusers: the two top-level modules diffusers keeps per patch size ("2-1": patch 2,
# frame patch 1), and the attention's names inside every block (the rest keeps its name)
_GROUPED = ("final_layer.", "x_embedder.")
_IN_BLOCK = ((".attention.out.", ".attention.to_out.0."),
             (".attention.q_norm.", ".attention.norm_q."),
             (".attention.k_norm.", ".attention.norm_k."))
_QKV = ".attention.qkv."
_TRAINED = ("attention.qkv.weight", "attention.out.weight", "feed_forward.w1.weight",
            "feed_forward.w2.weight", "feed_forward.w3.weight")


@dataclass(frozen=True)
class Slice:
    """Rows [start, start + rows) of the native tensor `key` (rows None: all of it)."""

    key: str
    start: int = 0
    rows: int | None = None


@dataclass(frozen=True)
class ZImageTarget:
    module: str  # diffusers module: layers.0.attention.to_q
    native: Slice  # the native weight rows it is
    shape: tuple[int, int]  # (out, in) of the diffusers weight

    @property
    def name(self) -> str:
        """Its name in a LoRA file: `diffusion_model.layers.0.attention.to_q`."""
        return LORA_PREFIX + self.module


def diffusers_keys(native_key: str, config: ZImageConfig) -> list[tuple[str, Slice]]:
    """The diffusers tensors one native tensor holds, each with its rows (the fused qkv holds
    three)."""
    if _QKV in native_key:
        head, tail = native_key.split(_QKV)
        return [(f"{head}.attention.to_{part}.{tail}", Slice(native_key, i * config.dim,
                                                             config.dim))
                for i, part in enumerate("qkv")]
    name = native_key
    if name.startswith(_GROUPED):
        name = f"all_{name.replace('.', f'.{config.patch_size}-1.', 1)}"
    for old, new in _IN_BLOCK:
        name = name.replace(old, new)
    return [(name, Slice(native_key))]


def diffusers_map(config: ZImageConfig) -> dict[str, Slice]:
    """{diffusers key: where it lives in the native file} for the whole transformer."""
    out: dict[str, Slice] = {}
    for key in native_shapes(config):
        out.update(diffusers_keys(key, config))
    return out


def _targets(config: ZImageConfig, wanted: Callable[[str], bool]) -> list[ZImageTarget]:
    targets = []
    for key, shape in native_shapes(config).items():
        if len(shape) != 2 or not key.endswith(".weight") or not wanted(key):
            continue
        for name, rows in diffusers_keys(key, config):
            out = rows.rows if rows.rows is not None else shape[0]
            targets.append(ZImageTarget(name[: -len(".weight")], rows, (out, shape[1])))
    return targets


def training_targets(config: ZImageConfig) -> list[ZImageTarget]:
    """musubi-tuner's default: the main layers' attention and feed-forward Linears."""
    return _targets(config, lambda key: key.startswith("layers.") and key.endswith(_TRAINED))


def extraction_targets(config: ZImageConfig) -> list[ZImageTarget]:
    """Every Linear of every block (main layers, noise and context refiners)."""
    return _targets(config, lambda key: key.startswith(tuple(g + "." for g in BLOCK_GROUPS)))


def all_targets(config: ZImageConfig) -> list[ZImageTarget]:
    """Every Linear a Z-Image LoRA may adapt (embedders and final layer too)."""
    return _targets(config, lambda key: not key.endswith(("_pad_token", "norm.weight")))
