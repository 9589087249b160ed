"""Flux.1 dev on 8, 12, 16 and 24 GB cards: what each tier chooses and the VRAM it should take.

ESTIMATES from the rule below until `bench/gpu_check.sh` measures them on a GPU:

  weights   the transformer, 11.9 B parameters: 23.8 GB in bf16, 11.9 GB in fp8
            (`model.fp8_base`); CLIP-L, T5-XXL and the VAE leave the GPU once captions and
            latents are cached (`residency`)
  LoRA      rank 16 on the blocks' Linear layers ≈ 0.3 GB with its gradients and optimizer state
  activations per image, full gradient checkpointing: about 6 GB at 1024 px, 2.5 GB at 768,
            1.2 GB at 512 (they follow the token count: 4096, 2304, 1024 packed tokens)
  overhead  1.0 GB CUDA context and allocator slack

kohya's sd-scripts (README, Flux LoRA) trains at 24 GB with the fp8 base, at 16 and 12 GB by
also swapping 8–16 of the blocks to the CPU, at 8 GB with 28 swapped and fp8 T5. Block swap is
not built here yet, so below 16 GB there is no tier that fits: the Wizard says so and picks the
16 GB one, the smallest this project can run.
"""

from __future__ import annotations

from lora_for_dummies.train.transformer_tiers import Footprint, TierTable

FLUX = Footprint(
    "Flux", weights_gb={True: 11.9, False: 23.8}, activations_gb={1024: 6.0, 768: 2.5, 512: 1.2},
    encoders="CLIP-L and T5 encode every caption once, then leave the GPU; latents cached",
    checkpointing="gradient checkpointing full: Flux's activations are most of what is left")
TABLE = TierTable(
    FLUX,
    tiers=(FLUX.tier(16, resolution=512, optimizer="adamw8bit"),
           FLUX.tier(24, resolution=1024, optimizer="adamw8bit"),
           FLUX.tier(32, resolution=1024, optimizer="adamw", fp8_base=False)),
    needs_block_swap="Flux below 16 GB needs block swap (blocks kept on the CPU and moved in "
                     "turn), which is not built yet: this runs the 16 GB settings and may run "
                     "out of memory",
    resolution_why={512: "1024 does not fit with the fp8 base below 24 GB"})
FLUX_TIERS = TABLE.tiers
flux_tier_for = TABLE.tier_for
choose_flux = TABLE.choose


def markdown_table() -> str:
    return TABLE.markdown_table("8 / 12 GB")
