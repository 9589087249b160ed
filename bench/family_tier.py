"""The part of a transformer family's tier benchmark that every family shares (bench/flux_tier.py,
bench/zimage_tier.py): the arguments, the job from the tier's Wizard choice, the run and the
one line of figures beside the tier's estimate. Each family's script gives only how its
full-size parts are written and where its tiny demo comes from. This is a benchmark, not a
test."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from lora_for_dummies.train.transformer_tiers import TierTable


def images(folder: Path, count: int = 4) -> Path:
    """Four 1024 px photos with a caption each, written once."""
    from lora_for_dummies.demo import photo

    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        path = folder / f"{index}.png"
        if not path.exists():
            photo(1024, 1024, seed=index).save(path)
            path.with_suffix(".txt").write_text("sks, a photo of a dog on grass",
                                                encoding="utf-8")
    return folder


def main(description: str, family: str, table: TierTable, out: Path,
         tiny_base: Callable[[Path], Path], full_size_base: Callable[[Path], Path]) -> None:
    """`family`: the runs' name prefix ("flux"); `tiny_base(folder)` / `full_size_base(folder)`
    write (once) the tiny demo's or the full-size random base and return its file."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--tier", type=int, choices=[t.gigabytes for t in table.tiers],
                        required=True)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--tiny", action="store_true", help="the tiny demo model (CPU check)")
    args = parser.parse_args()
    import torch

    from lora_for_dummies.train.config import TrainJob
    from lora_for_dummies.train.loop import Trainer

    if args.tiny:  # two shared cores: one thread is faster under load
        torch.set_num_threads(1)
    tier = next(t for t in table.tiers if t.gigabytes == args.tier)
    base = tiny_base(out / "tiny") if args.tiny else full_size_base(out / "full")
    run = out / f"tier-{tier.gigabytes}{'-tiny' if args.tiny else ''}"
    bf16 = args.device == "cuda" and torch.cuda.is_bf16_supported()
    choice = table.choose(tier.gigabytes, bf16, eight_bit=args.device == "cuda")
    name = f"{family}-{tier.gigabytes}gb"
    data: dict = {"model": {"base": str(base)},
                  "concepts": [{"folder": str(images(out / "images")), "token": "sks",
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
    seconds = [json.loads(line)["seconds"] for line in
               (run / name / "log.jsonl").read_text().splitlines() if '"loss"' in line]
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
