"""Anima LoRA names: kohya's `lora_unet_<native module, . → _>` (`networks/lora_anima.py`,
sd-scripts 48d368fa: "ComfyUI compatible"), the one place that decides which modules a LoRA
adapts.

Training follows kohya's default set: every Linear of the DiT blocks (self- and
cross-attention's q / k / v / output projections, the MLP's two layers), not the AdaLN
modulations, embedders, norms or final layer (its default exclude pattern
`.*(_modulation|_norm|_embedder|final_layer).*`) and not the LLM adapter (`train_llm_adapter`
off). An extraction takes the blocks' modulations too, as the Flux and Z-Image extractions take
theirs. ComfyUI's / Forge Neo's loader places every such name by its generic rule
(`lora.comfy_unet`).
"""

from __future__ import annotations

from dataclasses import dataclass

from lora_for_dummies.families.anima.architecture import AnimaConfig, block_shapes

KOHYA_PREFIX = "lora_unet_"


@dataclass(frozen=True)
class AnimaTarget:
    module: str  # native module: blocks.0.self_attn.q_proj
    shape: tuple[int, int]  # (out, in)

    @property
    def name(self) -> str:
        return KOHYA_PREFIX + self.module.replace(".", "_")

    @property
    def key(self) -> str:
        return self.module + ".weight"


def _targets(config: AnimaConfig, modulation: bool) -> list[AnimaTarget]:
    block = block_shapes(config)
    targets = []
    for index in range(config.blocks):
        for key, shape in block.items():
            if len(shape) != 2 or (not modulation and "adaln_modulation" in key):
                continue
            targets.append(AnimaTarget(f"blocks.{index}.{key[: -len('.weight')]}", shape))
    return targets


def training_targets(config: AnimaConfig) -> list[AnimaTarget]:
    """kohya's default: the blocks' attention and MLP Linears."""
    return _targets(config, modulation=False)


def extraction_targets(config: AnimaConfig) -> list[AnimaTarget]:
    """Every Linear of every block, the AdaLN-LoRA modulations too."""
    return _targets(config, modulation=True)
