"""Z-Image Performance Wizard tiers, measured: one tier's exact settings
(families/zimage/tiers.py) on a full-size random Z-Image transformer — peak VRAM and s/step
beside the tier's estimate, the figures that replace its "estimate" label. `--tiny` runs the
same on the tiny Z-Image demo (a CPU check that the script works; its numbers say nothing about
a GPU).

    python bench/zimage_tier.py --device cuda --tier 16 --steps 6
    python bench/zimage_tier.py --tiny --tier 12 --steps 2   # fp8 base: weights resident

The full-size transformer is written once (12.3 GB bf16, under bench/out/zimage) with random
weights; Qwen3 has the real width (2560) but one layer, since it leaves the GPU once captions are
encoded and only its output width matters to the transformer's memory. This is a benchmark, not
a test.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out" / "zimage"


def full_size_parts(folder: Path) -> Path:
    """The full-size transformer (random, bf16), a one-layer Qwen3 of width 2560, the demo's
    VAE and tokenizer — written once."""
    import torch

    from lora_for_dummies.families.zimage import demo
    from lora_for_dummies.families.zimage.architecture import FULL_SIZE
    from lora_for_dummies.families.zimage.synthetic import random_transformer, save_transformer

    base = folder / "zimage-random.safetensors"
    if not base.exists():
        folder.mkdir(parents=True, exist_ok=True)
        demo.write_zimage_demo(folder, name="tiny.safetensors")
        (folder / "tiny.safetensors").unlink()
        demo.write_qwen3(folder / "qwen_3_demo.safetensors", config=dict(
            demo.QWEN3, hidden_size=FULL_SIZE.cap_feat_dim, num_hidden_layers=1,
            num_attention_heads=32, num_key_value_heads=8, head_dim=128,
            intermediate_size=9728))
        save_transformer(random_transformer(FULL_SIZE), base, dtype=torch.bfloat16,
                         config=FULL_SIZE)
    return base


def main() -> None:
    from bench.family_tier import main as run_tier
    from lora_for_dummies.families.zimage.demo import write_zimage_demo
    from lora_for_dummies.families.zimage.tiers import TABLE

    run_tier(__doc__.splitlines()[0], "zimage", TABLE, OUT, write_zimage_demo, full_size_parts)


if __name__ == "__main__":
    main()
