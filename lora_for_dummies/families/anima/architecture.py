"""Anima's DiT (CircleStone Labs with Comfy Org: NVIDIA Cosmos-Predict2-2B's MiniTrainDIT with
an "LLM adapter" from Qwen3-0.6B into a T5-compatible space) as a config and the names and
shapes of its single file, computed without any model class (diffusers has none for the
adapter; recognising a file must not build a model).

Names and shapes as kohya-ss/sd-scripts builds the model (commit 48d368fa, `library/
anima_models.py` `Anima` with `library/anima_utils.py`'s fixed config; official files hold them
under `net.`, ComfyUI's under `diffusion_model.`): 28 `blocks.N` of width 2048 — `self_attn` and
`cross_attn` (`q_proj`, `k_proj`, `v_proj`, `output_proj`, `q_norm`, `k_norm`; the cross
attention's k / v read the adapter's 1024-wide output), `mlp.layer1/layer2` (4 × width), three
AdaLN-LoRA modulations (`adaln_modulation_{self_attn,cross_attn,mlp}.1/.2`, rank 256), no biases
and no affine layer norms; `x_embedder.proj.1` (2 × 2 patches of 16 latent channels + the
padding mask), `t_embedder.1.linear_1/2`, `t_embedding_norm`, `final_layer`; and
`llm_adapter` (6 blocks of width 1024 with self- and cross-attention, a T5 vocabulary of 32 128
embeddings). tests/test_anima_files.py checks every name and shape against that class's own
list (tests/data/anima_keys.json).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class AnimaConfig:
    dim: int = 2048
    blocks: int = 28
    heads: int = 16
    context_dim: int = 1024  # the adapter's output, what cross-attention reads
    adaln_rank: int = 256
    latent_channels: int = 16  # the Qwen-Image VAE's
    patch_size: int = 2
    adapter_dim: int = 1024  # Qwen3-0.6B's width in, T5's width out
    adapter_blocks: int = 6
    adapter_heads: int = 16
    adapter_vocab: int = 32128  # T5's vocabulary (the adapter's target tokens)

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


FULL_SIZE = AnimaConfig()
ATTENTIONS = ("self_attn", "cross_attn")
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "output_proj")
MODULATIONS = ("adaln_modulation_self_attn", "adaln_modulation_cross_attn",
               "adaln_modulation_mlp")


def block_shapes(c: AnimaConfig) -> dict[str, tuple[int, ...]]:
    """One DiT block's tensors, without its `blocks.N.` prefix."""
    shapes: dict[str, tuple[int, ...]] = {}
    for attention in ATTENTIONS:
        source = c.dim if attention == "self_attn" else c.context_dim
        shapes[f"{attention}.q_proj.weight"] = (c.dim, c.dim)
        shapes[f"{attention}.k_proj.weight"] = (c.dim, source)
        shapes[f"{attention}.v_proj.weight"] = (c.dim, source)
        shapes[f"{attention}.output_proj.weight"] = (c.dim, c.dim)
        shapes[f"{attention}.q_norm.weight"] = (c.head_dim,)
        shapes[f"{attention}.k_norm.weight"] = (c.head_dim,)
    shapes["mlp.layer1.weight"] = (4 * c.dim, c.dim)
    shapes["mlp.layer2.weight"] = (c.dim, 4 * c.dim)
    for modulation in MODULATIONS:
        shapes[f"{modulation}.1.weight"] = (c.adaln_rank, c.dim)
        shapes[f"{modulation}.2.weight"] = (3 * c.dim, c.adaln_rank)
    return shapes


def adapter_shapes(c: AnimaConfig) -> dict[str, tuple[int, ...]]:
    """The LLM adapter's tensors, under `llm_adapter.`."""
    width, head = c.adapter_dim, c.adapter_dim // c.adapter_heads
    shapes: dict[str, tuple[int, ...]] = {"embed.weight": (c.adapter_vocab, width)}
    for index in range(c.adapter_blocks):
        block = f"blocks.{index}."
        for attention in ATTENTIONS:
            shapes[f"{block}norm_{attention}.weight"] = (width,)
            for projection in ("q_proj", "k_proj", "v_proj", "o_proj"):
                shapes[f"{block}{attention}.{projection}.weight"] = (width, width)
            shapes[f"{block}{attention}.q_norm.weight"] = (head,)
            shapes[f"{block}{attention}.k_norm.weight"] = (head,)
        shapes[f"{block}norm_mlp.weight"] = (width,)
        shapes[f"{block}mlp.0.weight"] = (4 * width, width)
        shapes[f"{block}mlp.0.bias"] = (4 * width,)
        shapes[f"{block}mlp.2.weight"] = (width, 4 * width)
        shapes[f"{block}mlp.2.bias"] = (width,)
    shapes.update({"out_proj.weight": (width, width), "out_proj.bias": (width,),
                   "norm.weight": (width,)})
    return {f"llm_adapter.{k}": v for k, v in shapes.items()}


def native_shapes(c: AnimaConfig) -> dict[str, tuple[int, ...]]:
    """{key: shape} of the whole DiT with its adapter (no file prefix)."""
    patch = c.patch_size * c.patch_size
    shapes: dict[str, tuple[int, ...]] = {
        "x_embedder.proj.1.weight": (c.dim, (c.latent_channels + 1) * patch),
        "t_embedder.1.linear_1.weight": (c.dim, c.dim),
        "t_embedder.1.linear_2.weight": (3 * c.dim, c.dim),
        "t_embedding_norm.weight": (c.dim,),
        "final_layer.linear.weight": (patch * c.latent_channels, c.dim),
        "final_layer.adaln_modulation.1.weight": (c.adaln_rank, c.dim),
        "final_layer.adaln_modulation.2.weight": (2 * c.dim, c.adaln_rank)}
    block = block_shapes(c)
    for index in range(c.blocks):
        shapes.update({f"blocks.{index}.{k}": v for k, v in block.items()})
    shapes.update(adapter_shapes(c))
    return shapes
