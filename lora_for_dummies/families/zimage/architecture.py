"""Z-Image's transformer (Tongyi-MAI's S3-DiT, "NextDiT" in ComfyUI) as a config and the names
and shapes of its single file, computed without diffusers (A1111's and Forge's diffusers 0.31 has
no Z-Image class, and recognising a 12 GB file must not build a model).

The native names are those of ComfyUI's / Forge Neo's single files (`z_image_turbo_bf16
.safetensors`, and Tongyi-MAI's own checkpoints): `layers.N.attention.qkv` (q, k, v fused by
rows), `attention.out`, `attention.q_norm` / `k_norm`, `feed_forward.w1/w2/w3`, the four RMSNorms,
`adaLN_modulation.0` (not in the context refiner), `x_embedder`, `final_layer.linear` /
`final_layer.adaLN_modulation.1`, `t_embedder.mlp.0/2`, `cap_embedder.0/1`, two pad tokens.
Shapes as diffusers' `ZImageTransformer2DModel` builds them (diffusers 0.37.1 / 0.42.1,
`models/transformers/transformer_z_image.py`): the timestep width is min(dim, 256), the
feed-forward's hidden width int(dim / 3 · 8), q / k / v each `dim` rows (Z-Image has as many
key-value heads as heads). tests/test_zimage_files.py checks every name and shape against the
diffusers model through diffusers' own single-file converter.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

BLOCK_GROUPS = ("layers", "noise_refiner", "context_refiner")
TIMESTEP_MID = 1024  # t_embedder's hidden width (`mid_size`, fixed in the model)
FREQUENCY_SIZE = 256  # the sinusoidal timestep embedding's width


@dataclass(frozen=True)
class ZImageConfig:
    dim: int = 3840
    n_layers: int = 30
    n_refiner_layers: int = 2
    n_heads: int = 30
    cap_feat_dim: int = 2560  # Qwen3-4B's hidden width
    in_channels: int = 16  # the Flux VAE's latent channels
    patch_size: int = 2

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    @property
    def time_dim(self) -> int:
        return min(self.dim, 256)

    @property
    def ffn_dim(self) -> int:
        return int(self.dim / 3 * 8)

    @property
    def patch_channels(self) -> int:
        return self.patch_size * self.patch_size * self.in_channels

    def axes_dims(self) -> list[int]:
        """The rotary axes (frame, height, width): Z-Image's 32 / 48 / 48 of 128, scaled."""
        quarter = self.head_dim // 4
        rest = (self.head_dim - quarter) // 2
        return [self.head_dim - 2 * rest, rest, rest]

    def diffusers_config(self) -> dict[str, object]:
        """`ZImageTransformer2DModel`'s constructor arguments for this size."""
        return {"all_patch_size": [self.patch_size], "all_f_patch_size": [1],
                "in_channels": self.in_channels, "dim": self.dim, "n_layers": self.n_layers,
                "n_refiner_layers": self.n_refiner_layers, "n_heads": self.n_heads,
                "n_kv_heads": self.n_heads, "norm_eps": 1e-5, "qk_norm": True,
                "cap_feat_dim": self.cap_feat_dim, "rope_theta": 256.0, "t_scale": 1000.0,
                "axes_dims": self.axes_dims(), "axes_lens": [1024, 512, 512]}

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


FULL_SIZE = ZImageConfig()


def block_shapes(config: ZImageConfig, modulated: bool) -> dict[str, tuple[int, ...]]:
    """One block's native tensors (`attention.qkv.weight` …), without its group prefix."""
    dim, ffn = config.dim, config.ffn_dim
    shapes: dict[str, tuple[int, ...]] = {
        "attention.qkv.weight": (3 * dim, dim), "attention.out.weight": (dim, dim),
        "attention.q_norm.weight": (config.head_dim,),
        "attention.k_norm.weight": (config.head_dim,),
        "feed_forward.w1.weight": (ffn, dim), "feed_forward.w2.weight": (dim, ffn),
        "feed_forward.w3.weight": (ffn, dim)}
    for norm in ("attention_norm1", "ffn_norm1", "attention_norm2", "ffn_norm2"):
        shapes[f"{norm}.weight"] = (dim,)
    if modulated:
        shapes["adaLN_modulation.0.weight"] = (4 * dim, config.time_dim)
        shapes["adaLN_modulation.0.bias"] = (4 * dim,)
    return shapes


def native_shapes(config: ZImageConfig) -> dict[str, tuple[int, ...]]:
    """{native key: shape} of the whole transformer (no file prefix)."""
    dim, time = config.dim, config.time_dim
    shapes: dict[str, tuple[int, ...]] = {
        "x_pad_token": (1, dim), "cap_pad_token": (1, dim),
        "x_embedder.weight": (dim, config.patch_channels), "x_embedder.bias": (dim,),
        "final_layer.linear.weight": (config.patch_channels, dim),
        "final_layer.linear.bias": (config.patch_channels,),
        "final_layer.adaLN_modulation.1.weight": (dim, time),
        "final_layer.adaLN_modulation.1.bias": (dim,),
        "t_embedder.mlp.0.weight": (TIMESTEP_MID, FREQUENCY_SIZE),
        "t_embedder.mlp.0.bias": (TIMESTEP_MID,),
        "t_embedder.mlp.2.weight": (time, TIMESTEP_MID), "t_embedder.mlp.2.bias": (time,),
        "cap_embedder.0.weight": (config.cap_feat_dim,),
        "cap_embedder.1.weight": (dim, config.cap_feat_dim), "cap_embedder.1.bias": (dim,)}
    counts = {"layers": config.n_layers, "noise_refiner": config.n_refiner_layers,
              "context_refiner": config.n_refiner_layers}
    for group in BLOCK_GROUPS:
        block = block_shapes(config, modulated=group != "context_refiner")
        for index in range(counts[group]):
            shapes.update({f"{group}.{index}.{k}": v for k, v in block.items()})
    return shapes


def parameter_count(shapes: dict[str, tuple[int, ...]]) -> int:
    total = 0
    for shape in shapes.values():
        count = 1
        for dim in shape:
            count *= dim
        total += count
    return total
