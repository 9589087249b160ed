"""Flux Performance Wizard tiers, measured: one tier's exact settings (families/flux/tiers.py)
on a full-size random Flux.1 dev transformer — peak VRAM and s/step beside the tier's
estimate, the figures that replace its "estimate" label. `--tiny` runs the same on the tiny
Flux demo (a CPU check that the script works; its numbers say nothing about a GPU).

    python bench/flux_tier.py --device cuda --tier 24 --steps 6
    python bench/flux_tier.py --tiny --tier 16 --steps 2   # fp8 base: weights resident
    python bench/flux_tier.py --tiny --tier 32 --steps 2   # beside the plain (bf16) run

The full-size transformer is written once (23.8 GB bf16, under bench/out/flux) with random
weights; CLIP-L is full size, T5 has the real width (4096) but one block, since T5 leaves the
GPU once captions are encoded and only its output width matters to the transformer's memory.
This is a benchmark, not a test.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out" / "flux"


def full_size_parts(folder: Path) -> Path:
    """The full-size transformer (random, bf16) and its parts, written once."""
    import torch

    from lora_for_dummies.families.flux import demo
    from lora_for_dummies.families.flux.architecture import variant_config
    from lora_for_dummies.families.flux.synthetic import random_transformer, save_transformer

    base = folder / "flux-dev-random.safetensors"
    if not base.exists():
        folder.mkdir(parents=True, exist_ok=True)
        demo.CLIP.update(hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                         num_hidden_layers=12, projection_dim=768)
        demo.T5.update(d_model=4096, d_kv=64, d_ff=10240, num_layers=1, num_heads=64,
                       vocab_size=32128)
        tiny = demo.write_flux_demo(folder / "parts")
        for part in ("clip_l.safetensors", "t5xxl_demo.safetensors", "ae.safetensors"):
            (folder / "parts" / part).rename(folder / part)
        (folder / "parts" / "tokenizer_2").rename(folder / "tokenizer_2")
        tiny.unlink()
        state = random_transformer(variant_config("dev"))
        save_transformer(state, base, dtype=torch.bfloat16)
    return base


def main() -> None:
    from bench.family_tier import main as run_tier
    from lora_for_dummies.families.flux.demo import write_flux_demo
    from lora_for_dummies.families.flux.tiers import TABLE

    run_tier(__doc__.splitlines()[0], "flux", TABLE, OUT, write_flux_demo, full_size_parts)


if __name__ == "__main__":
    main()
