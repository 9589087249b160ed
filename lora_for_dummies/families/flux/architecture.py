"""The BFL transformer layout as data: every tensor name and shape a Flux.1 or Chroma file holds.

This is the one naming rule of the package: the synthetic writer writes it, recognition
compares a file against it, LoRA targets are drawn from it. It was checked against key lists
taken from BFL's own `Flux` class (black-forest-labs/flux 802fb471, `src/flux/model.py`,
`modules/layers.py`) and ComfyUI's `Chroma` (Comfy-Org/ComfyUI a125cd84,
`comfy/ldm/chroma/`), kept as test data in tests/data/*_keys.json — a rule written from memory
once invented a 33rd SDXL text block.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

VARIANTS = ("dev", "schnell", "chroma")
# Sinusoidal embedding width of the timestep / guidance MLPs (BFL: `MLPEmbedder(in_dim=256)`).
TIME_EMBED_DIM = 256


@dataclass(frozen=True)
class FluxConfig:
    """BFL's `FluxParams` (+ Chroma's approximator) with the values of the real files."""

    hidden_size: int = 3072
    num_heads: int = 24
    depth: int = 19  # double-stream blocks
    depth_single_blocks: int = 38
    in_channels: int = 64  # 16 latent channels × a 2×2 patch
    out_channels: int = 64
    vec_in_dim: int = 768  # CLIP-L pooled output (Flux only)
    context_in_dim: int = 4096  # T5-XXL hidden size
    mlp_ratio: float = 4.0
    axes_dim: tuple[int, ...] = (16, 56, 56)  # RoPE axes; they sum to the head dim
    guidance_embed: bool = True  # dev / Krea: `guidance_in`; schnell: none
    chroma: bool = False
    # Chroma's "distilled guidance layer" (ComfyUI `Approximator`): it computes every block's
    # modulation, so its blocks have no `*_mod` / `modulation` / `adaLN_modulation` layers.
    approximator_in: int = 64
    approximator_hidden: int = 5120
    approximator_layers: int = 5

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def mlp_hidden(self) -> int:
        return int(self.hidden_size * self.mlp_ratio)

    @property
    def variant(self) -> str:
        return "chroma" if self.chroma else "dev" if self.guidance_embed else "schnell"


FLUX_DEV = FluxConfig()
FLUX_SCHNELL = replace(FLUX_DEV, guidance_embed=False)
CHROMA = replace(FLUX_DEV, guidance_embed=False, chroma=True, vec_in_dim=0)  # no CLIP-L
# Small enough for a CPU test (about 0.5 M parameters), the same layout. It matches the tiny
# config in tests/data/flux_tiny_keys.json and a diffusers FluxTransformer2DModel with
# num_layers 2, num_single_layers 2, attention_head_dim 32, 2 heads, joint_attention_dim 48,
# pooled_projection_dim 32, axes_dims_rope (8, 12, 12).
_TINY = dict(hidden_size=64, num_heads=2, depth=2, depth_single_blocks=2, vec_in_dim=32,
             context_in_dim=48, axes_dim=(8, 12, 12))
_TINY_CHROMA = dict(_TINY, vec_in_dim=0, approximator_hidden=96, approximator_layers=2)


def variant_config(variant: str, tiny: bool = False) -> FluxConfig:
    """The config of a variant (dev | schnell | chroma), full size or tiny."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown Flux variant {variant!r}; one of {', '.join(VARIANTS)}")
    config = {"dev": FLUX_DEV, "schnell": FLUX_SCHNELL, "chroma": CHROMA}[variant]
    if not tiny:
        return config
    return replace(config, **(_TINY_CHROMA if config.chroma else _TINY))


def _linear(name: str, out_features: int, in_features: int) -> dict[str, tuple[int, ...]]:
    return {f"{name}.weight": (out_features, in_features), f"{name}.bias": (out_features,)}


def _mlp_embedder(name: str, in_dim: int, hidden: int) -> dict[str, tuple[int, ...]]:
    """BFL `MLPEmbedder`: in_layer → SiLU → out_layer."""
    return {**_linear(f"{name}.in_layer", hidden, in_dim),
            **_linear(f"{name}.out_layer", hidden, hidden)}


def _qk_norm(name: str, head_dim: int) -> dict[str, tuple[int, ...]]:
    return {f"{name}.query_norm.scale": (head_dim,), f"{name}.key_norm.scale": (head_dim,)}


def _double_block(index: int, config: FluxConfig) -> dict[str, tuple[int, ...]]:
    """One double-stream block: an image and a text stream, each with its own modulation,
    fused q/k/v attention and MLP (`img_mlp.0` / `.2`: Sequential(Linear, GELU, Linear))."""
    h, block = config.hidden_size, f"double_blocks.{index}"
    shapes: dict[str, tuple[int, ...]] = {}
    for stream in ("img", "txt"):
        if not config.chroma:
            shapes.update(_linear(f"{block}.{stream}_mod.lin", 6 * h, h))
        shapes.update(_linear(f"{block}.{stream}_attn.qkv", 3 * h, h))
        shapes.update(_qk_norm(f"{block}.{stream}_attn.norm", config.head_dim))
        shapes.update(_linear(f"{block}.{stream}_attn.proj", h, h))
        shapes.update(_linear(f"{block}.{stream}_mlp.0", config.mlp_hidden, h))
        shapes.update(_linear(f"{block}.{stream}_mlp.2", h, config.mlp_hidden))
    return shapes


def _single_block(index: int, config: FluxConfig) -> dict[str, tuple[int, ...]]:
    """One single-stream block: `linear1` is q, k, v and the MLP input fused; `linear2` the
    attention output and the MLP output fused."""
    h, block = config.hidden_size, f"single_blocks.{index}"
    shapes = {**_linear(f"{block}.linear1", 3 * h + config.mlp_hidden, h),
              **_linear(f"{block}.linear2", h, h + config.mlp_hidden),
              **_qk_norm(f"{block}.norm", config.head_dim)}
    if not config.chroma:
        shapes.update(_linear(f"{block}.modulation.lin", 3 * h, h))
    return shapes


def transformer_shapes(config: FluxConfig) -> dict[str, tuple[int, ...]]:
    """{key: shape} of every tensor of the transformer, without any prefix, sorted."""
    h = config.hidden_size
    shapes = {**_linear("img_in", h, config.in_channels),
              **_linear("txt_in", h, config.context_in_dim)}
    if config.chroma:
        hidden = config.approximator_hidden
        shapes.update(_linear("distilled_guidance_layer.in_proj", hidden, config.approximator_in))
        for layer in range(config.approximator_layers):
            shapes.update(_mlp_embedder(f"distilled_guidance_layer.layers.{layer}", hidden,
                                        hidden))
            shapes[f"distilled_guidance_layer.norms.{layer}.scale"] = (hidden,)
        shapes.update(_linear("distilled_guidance_layer.out_proj", h, hidden))
    else:
        shapes.update(_mlp_embedder("time_in", TIME_EMBED_DIM, h))
        shapes.update(_mlp_embedder("vector_in", config.vec_in_dim, h))
        if config.guidance_embed:
            shapes.update(_mlp_embedder("guidance_in", TIME_EMBED_DIM, h))
        shapes.update(_linear("final_layer.adaLN_modulation.1", 2 * h, h))
    for index in range(config.depth):
        shapes.update(_double_block(index, config))
    for index in range(config.depth_single_blocks):
        shapes.update(_single_block(index, config))
    shapes.update(_linear("final_layer.linear", config.out_channels, h))
    return dict(sorted(shapes.items()))


def parameter_count(shapes: dict[str, tuple[int, ...]]) -> int:
    total = 0
    for shape in shapes.values():
        count = 1
        for dim in shape:
            count *= dim
        total += count
    return total
