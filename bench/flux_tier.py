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

import argparse
import json
import statistics
import sys
import time
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


def images(folder: Path, count: int = 4) -> Path:
    from lora_for_dummies.demo import photo

    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        path = folder / f"{index}.png"
        if not path.exists():
            photo(1024, 1024, seed=index).save(path)
            path.with_suffix(".txt").write_text("sks, a photo of a dog on grass",
                                                encoding="utf-8")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tier", type=int, choices=[16, 24, 32], required=True)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--tiny", action="store_true", help="the tiny Flux demo (CPU check)")
    args = parser.parse_args()
    import torch

    from lora_for_dummies.families.flux.demo import write_flux_demo
    from lora_for_dummies.families.flux.tiers import FLUX_TIERS, choose_flux
    from lora_for_dummies.train.config import TrainJob
    from lora_for_dummies.train.loop import Trainer

    if args.tiny:  # two shared cores: one thread is faster under load
        torch.set_num_threads(1)
    tier = next(t for t in FLUX_TIERS if t.gigabytes == args.tier)
    base = write_flux_demo(OUT / "tiny") if args.tiny else full_size_parts(OUT / "full")
    run = OUT / f"tier-{tier.gigabytes}{'-tiny' if args.tiny else ''}"
    bf16 = args.device == "cuda" and torch.cuda.is_bf16_supported()
    choice = choose_flux(tier.gigabytes, bf16, eight_bit=args.device == "cuda")
    data: dict = {"model": {"base": str(base)},
                  "concepts": [{"folder": str(images(OUT / "images")), "token": "sks",
                                "repeats": 4}],
                  "optimizer": {"scheduler": "constant", "warmup": 0},
                  "training": {"steps": args.steps}, "samples": {"enabled": False},
                  "save": {"name": f"flux-{tier.gigabytes}gb", "every": 0,
                           "lora_dir": str(run / "Lora")}, "runs_dir": str(run)}
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
    log = run / f"flux-{tier.gigabytes}gb" / "log.jsonl"
    seconds = [json.loads(line)["seconds"] for line in log.read_text().splitlines()
               if '"loss"' in line]
    step = statistics.median(seconds[1:] or seconds)
    if args.device == "cuda":
        peak, memory = torch.cuda.max_memory_allocated() / 2**30, "peak VRAM"
    else:
        import resource

        peak, memory = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "peak RSS"
    print(f"flux-{tier.gigabytes}gb{' (tiny)' if args.tiny else ''}: {step:.2f} s/step, "
          f"{memory} {peak:.2f} GB | table: {tier.vram_label()} | "
          f"{peak / tier.estimated_gb:.2f}x the estimate | transformer weights resident "
          f"{resident * 1024:.2f} MB ({'fp8 base' if tier.fp8_base else 'bf16'}) | whole run "
          f"{time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
