"""Each kind of LoRA at its default settings beside plain LoRA: file size, trainable parameters,
step time and peak memory, one training run per kind on the same full-size architecture
(random weights, `bench/train_step.py`'s base and image), each in its own process.

    python bench/kinds.py                        # SD1.5-size, CPU, fp32, 256 px, 3 steps
    python bench/kinds.py --device cuda --precision bf16 --family sdxl --resolution 1024

Defaults as the Train tab has them: rank 16, alpha 8, kohya's layer set on the UNet and the
text encoder, no conv layers, AdamW; the file saved in fp16. Step time is the median of the
steps after the first; peak memory is the child's peak RSS on the CPU, peak allocated VRAM on
a GPU. Trainable parameters are counted in the saved file (every tensor but the alphas: the
file holds exactly what was trained). Printed as a Markdown table, ratios against LoRA.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
from rss import peak_rss_gb  # noqa: E402
from train_step import BASES, OUT, prepare  # noqa: E402

KINDS = ("lora", "dora", "loha", "lokr", "full")


def child(args: argparse.Namespace) -> None:
    import torch
    from safetensors import safe_open

    from lora_for_dummies.train.config import TrainJob
    from lora_for_dummies.train.loop import Trainer

    images = prepare(args.family)
    run = OUT / f"kind-{args.child}"
    shutil.rmtree(run, ignore_errors=True)
    job = TrainJob.from_dict({
        "model": {"base": str(BASES[args.family])},
        "concepts": [{"folder": str(images), "token": "sks", "repeats": 1}],
        "network": {"kind": args.child},
        "optimizer": {"scheduler": "constant", "warmup": 0},
        "training": {"steps": args.steps, "resolution": args.resolution,
                     "precision": args.precision, "buckets": False, "seed": 1},
        "samples": {"enabled": False},
        "save": {"name": args.child, "every": 0, "lora_dir": str(run / "Lora"),
                 "dtype": "fp16"},
        "runs_dir": str(run)})
    started = time.perf_counter()
    Trainer(job, run / "Lora", device=args.device, overwrite=True).run()
    records = [json.loads(line) for line in
               (run / args.child / "log.jsonl").read_text().splitlines()]
    seconds = [r["seconds"] for r in records if "loss" in r]
    path = run / "Lora" / f"{args.child}.safetensors"
    with safe_open(str(path), "pt") as file:
        parameters = sum(_numel(file.get_slice(k).get_shape()) for k in file.keys()
                         if not k.endswith(".alpha"))
    peak = torch.cuda.max_memory_allocated() / 2**30 if args.device == "cuda" else peak_rss_gb()
    print("RESULT " + json.dumps({"bytes": path.stat().st_size, "parameters": parameters,
                                  "step": statistics.median(seconds[1:] or seconds),
                                  "peak": peak, "wall": time.perf_counter() - started}))


def _numel(shape: list[int]) -> int:
    count = 1
    for side in shape:
        count *= side
    return count


def measure(kind: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--family", args.family, "--device",
               args.device, "--precision", args.precision, "--resolution",
               str(args.resolution), "--steps", str(args.steps)]
    output = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True).stdout
    return json.loads(next(line for line in output.splitlines()
                           if line.startswith("RESULT "))[7:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=sorted(BASES), default="sd1")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--precision", choices=["fp32", "fp16", "bf16"], default="fp32")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--child", choices=KINDS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    prepare(args.family)
    results = {kind: measure(kind, args) for kind in args.kinds}
    lora = results.get("lora")
    memory = "peak VRAM" if args.device == "cuda" else "peak RSS"
    print(f"{args.family}-size, {args.device}, {args.precision}, {args.resolution} px, batch 1, "
          f"rank 16 / alpha 8 (defaults), UNet + text encoder, file in fp16\n")
    print(f"| kind | file | trainable parameters | step | {memory} |")
    print("|---|---|---|---|---|")
    for kind, r in results.items():
        def ratio(key: str, r: dict = r, kind: str = kind) -> str:
            return f" ({r[key] / lora[key]:.2f}×)" if lora and kind != "lora" else ""
        print(f"| {kind} | {r['bytes'] / 2**20:.1f} MB{ratio('bytes')} | "
              f"{r['parameters'] / 1e6:.2f} M{ratio('parameters')} | {r['step']:.2f} s"
              f"{ratio('step')} | {r['peak']:.2f} GB{ratio('peak')} |")
    (OUT / "kinds.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
