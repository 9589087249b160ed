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

import argparse
import json
import statistics
import sys
import time
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tier", type=int, choices=[12, 16, 24], required=True)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--tiny", action="store_true", help="the tiny Z-Image demo (CPU check)")
    args = parser.parse_args()
    import torch

    from bench.flux_tier import images
    from lora_for_dummies.families.zimage.demo import write_zimage_demo
    from lora_for_dummies.families.zimage.tiers import ZIMAGE_TIERS, choose_zimage
    from lora_for_dummies.train.config import TrainJob
    from lora_for_dummies.train.loop import Trainer

    if args.tiny:  # two shared cores: one thread is faster under load
        torch.set_num_threads(1)
    tier = next(t for t in ZIMAGE_TIERS if t.gigabytes == args.tier)
    base = write_zimage_demo(OUT / "tiny") if args.tiny else full_size_parts(OUT / "full")
    run = OUT / f"tier-{tier.gigabytes}{'-tiny' if args.tiny else ''}"
    bf16 = args.device == "cuda" and torch.cuda.is_bf16_supported()
    choice = choose_zimage(tier.gigabytes, bf16, eight_bit=args.device == "cuda")
    name = f"zimage-{tier.gigabytes}gb"
    data: dict = {"model": {"base": str(base)},
                  "concepts": [{"folder": str(images(OUT / "images")), "token": "sks",
                                "repeats": 4}],
                  "optimizer": {"scheduler": "constant", "warmup": 0},
                  "training": {"steps": args.steps}, "samples": {"enabled": False},
                  "save": {"name": name, "every": 0, "lora_dir": str(run / "Lora")},
                  "runs_dir": str(run)}
    for path, value in choice.settings.items():
        section, key = path.split(".")
        data.setdefault(section, {})[key] = value
    if args.tiny:
        data["training"].update(resolution=64, precision="fp32")
    began = time.perf_counter()
    trainer = Trainer(TrainJob.from_dict(data), run / "Lora", device=args.device,
                      overwrite=True)  # its own files of an earlier bench run
    trainer.run()
    resident = sum(p.numel() * p.element_size() for p in trainer.unet.parameters()) / 2**30
    log = run / name / "log.jsonl"
    seconds = [json.loads(line)["seconds"] for line in log.read_text().splitlines()
               if '"loss"' in line]
    step = statistics.median(seconds[1:] or seconds)
    if args.device == "cuda":
        peak, memory = torch.cuda.max_memory_allocated() / 2**30, "peak VRAM"
    else:
        import resource

        peak, memory = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "peak RSS"
    print(f"{name}{' (tiny)' if args.tiny else ''}: {step:.2f} s/step, {memory} {peak:.2f} GB "
          f"| table: {tier.vram_label()} | {peak / tier.estimated_gb:.2f}x the estimate | "
          f"transformer weights resident {resident * 1024:.2f} MB "
          f"({'fp8 base' if tier.fp8_base else 'bf16'}) | whole run "
          f"{time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
