"""Write a full-size random-weight checkpoint (SD1.5 / SD2 / SDXL architecture) for benchmarks.

    python bench/make_checkpoint.py sd1 bench/out/sd15-random.safetensors [--fp16] [--ema]

The file has the real key layout and sizes (about 4 GB fp32 / 2 GB fp16 for SD1.5), so every
benchmark measures what a user's file costs. Takes about a minute on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    import torch

    from lora_for_dummies.checkpoints.synthetic import write_random_checkpoint

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("family", choices=["sd1", "sd2", "sdxl"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--fp16", action="store_true")
    parser.add_argument("--ema", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    path = write_random_checkpoint(args.out, args.family, tiny=False, seed=args.seed,
                                   dtype=torch.float16 if args.fp16 else None, ema=args.ema,
                                   prediction="v" if args.family == "sd2" else None)
    print(f"wrote {path} ({path.stat().st_size / 2**30:.2f} GiB) in "
          f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
