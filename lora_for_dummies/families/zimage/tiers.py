"""Z-Image on 12, 16 and 24 GB cards: what each tier chooses and the VRAM it should take.

ESTIMATES from the rule below until `bench/gpu_check.sh` measures them on a GPU:

  weights   the transformer, 6.15 B parameters: 12.3 GB in bf16, 6.2 GB in fp8
            (`model.fp8_base`, musubi-tuner's --fp8_base); Qwen3-4B and the VAE leave the GPU
            once captions and latents are cached (`residency`)
  LoRA      rank 16 on the main layers' attention and feed-forward ≈ 0.3 GB with its gradients
            and optimizer state
  activations per image, full gradient checkpointing: about 3.0 GB at 1024 px, 1.7 GB at 768,
            0.8 GB at 512 (4096, 2304, 1024 image tokens, plus the caption's)
  overhead  1.0 GB CUDA context and allocator slack

musubi-tuner trains Z-Image LoRAs on 12 GB with --fp8_base --fp8_scaled and on smaller cards by
swapping blocks to the CPU (--blocks_to_swap, up to 28); block swap is not built here, so below
12 GB the Wizard says so and picks the 12 GB tier.
"""

from __future__ import annotations

from lora_for_dummies.train.transformer_tiers import Footprint, TierTable

ZIMAGE = Footprint(
    "Z-Image", weights_gb={True: 6.2, False: 12.3},
    activations_gb={1024: 3.0, 768: 1.7, 512: 0.8},
    encoders="Qwen3-4B encodes every caption once, then leaves the GPU; latents cached")
TABLE = TierTable(
    ZIMAGE,
    tiers=(ZIMAGE.tier(12, resolution=768, optimizer="adamw8bit"),
           ZIMAGE.tier(16, resolution=1024, optimizer="adamw8bit"),
           ZIMAGE.tier(24, resolution=1024, optimizer="adamw", fp8_base=False)),
    needs_block_swap="Z-Image below 12 GB needs block swap (blocks kept on the CPU and moved "
                     "in turn), which is not built yet: this runs the 12 GB settings and may "
                     "run out of memory",
    resolution_why={})
ZIMAGE_TIERS = TABLE.tiers
tier_for = TABLE.tier_for
choose_zimage = TABLE.choose


def markdown_table() -> str:
    return TABLE.markdown_table("8 GB")
