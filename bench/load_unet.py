"""Loading the UNet for a CPU training run: ours vs a memory-mapped read of the same tensors, and
vs diffusers' `from_pretrained` of the same weights as a diffusers folder (what the example does).

    python bench/load_unet.py [--runs 3]

The base is bench/train_step.py's full-size SD1.5 file (random weights, fp16 as most shared
files are). Each contender runs in its own process, alternating, `--runs` times; medians:
- ours: `load_for_compute(base, {"unet": fp32})`, what a CPU run does (the UNet stays in the
  file's fp16 and computes in fp32, `train/stored_precision.py`);
- mmap read: `safetensors.safe_open` (a memory map) and every UNet tensor copied out of it,
  i.e. reading the same bytes with nothing else done;
- from_pretrained: diffusers' `UNet2DConditionModel.from_pretrained(folder, subfolder="unet")`
  on the folder bench/train_example.py writes (run that first, or this row is skipped).
Time counts from after the imports (torch, diffusers: a training run imports them anyway) to the
loaded tensors; peak RSS is the process's own
(`VmHWM`), imports included. The page cache is warm (each file is read once before timing).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))
from rss import peak_rss_gb  # noqa: E402
from train_step import BASES, OUT, prepare  # noqa: E402

FOLDER = OUT / f"{BASES['sd1'].stem}-diffusers"


def child(which: str) -> None:
    import torch
    from diffusers import UNet2DConditionModel  # imported by every run anyway: not timed

    from lora_for_dummies.families import UNET_PREFIX

    began = time.perf_counter()
    if which == "ours":
        from lora_for_dummies.train.stored_precision import load_for_compute

        loaded, _ = load_for_compute(BASES["sd1"], {"unet": torch.float32}, "cpu")
        count = sum(p.numel() for p in loaded.models["unet"].parameters())
    elif which == "mmap":
        from safetensors import safe_open

        with safe_open(str(BASES["sd1"]), framework="pt") as file:
            tensors = {k: file.get_tensor(k).clone() for k in file.keys()
                       if k.startswith(UNET_PREFIX)}
        count = sum(t.numel() for t in tensors.values())
    else:
        unet = UNet2DConditionModel.from_pretrained(FOLDER, subfolder="unet")
        count = sum(p.numel() for p in unet.parameters())
    seconds = time.perf_counter() - began
    print("RESULT " + json.dumps({"seconds": seconds, "peak_rss_gb": peak_rss_gb(),
                                  "weights": count}))


def measure(which: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", which], capture_output=True,
                          text=True)
    found = [line[7:] for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not found:
        sys.exit(f"{which} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return json.loads(found[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", choices=["ours", "mmap", "from_pretrained"])
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    prepare("sd1")
    for path in [BASES["sd1"], *FOLDER.glob("unet/*.safetensors")]:
        with open(path, "rb") as file:  # warm the page cache for every contender alike
            while file.read(1 << 24):
                pass
    sides = ["ours", "mmap"] + (["from_pretrained"] if FOLDER.exists() else [])
    results: dict[str, list[dict]] = {side: [] for side in sides}
    for _ in range(args.runs):
        for side in sides:
            results[side].append(measure(side))
            print(side, results[side][-1], flush=True)
    medians = {side: {key: statistics.median(r[key] for r in runs)
                      for key in ("seconds", "peak_rss_gb")} for side, runs in results.items()}
    for side, median in medians.items():
        print(f"{side:16s} {median['seconds']:6.2f} s  {median['peak_rss_gb']:5.2f} GB peak RSS"
              f"  (weights {results[side][0]['weights']:,})")
    for side in sides[1:]:
        print(f"ours / {side}: {medians['ours']['seconds'] / medians[side]['seconds']:.2f}x "
              f"the time, {medians['ours']['peak_rss_gb'] / medians[side]['peak_rss_gb']:.2f}x "
              "the memory")


if __name__ == "__main__":
    main()
