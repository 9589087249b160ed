"""Extraction speed, memory and accuracy: ours vs a reference written the way kohya's
`extract_lora_from_models.py` works (both models fully loaded, a full `torch.linalg.svd` per
module, 0.99 quantile clamp). Same pair, same rank, one run, each contender in its own process
so that peak RSS is its own.

    python bench/extract.py [--family sd1|sdxl] [--rank 32] [--no-reference]

The pair: a random full-size base (fp16) and tuned = base + a rank-64 change with a decaying
spectrum (+ noise) in every UNet attention/MLP layer and every text-encoder layer.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"


def make_pair(family: str) -> tuple[Path, Path, Path]:
    import torch

    from lora_for_dummies.checkpoints.detect import detect_family
    from lora_for_dummies.checkpoints.models import resolve_configs
    from lora_for_dummies.checkpoints.reader import CheckpointFile
    from lora_for_dummies.checkpoints.synthetic import write_random_checkpoint
    from lora_for_dummies.checkpoints.write import save_state_dict
    from lora_for_dummies.lora.targets import extraction_targets

    base, tuned, truth = (OUT / f"{family}-base.safetensors", OUT / f"{family}-tuned.safetensors",
                          OUT / f"{family}-change.pt")
    if tuned.exists() and truth.exists():
        return base, tuned, truth
    OUT.mkdir(parents=True, exist_ok=True)
    write_random_checkpoint(base, family, tiny=False, dtype=torch.float16)
    generator = torch.Generator().manual_seed(0)
    with CheckpointFile(base) as file:
        state = {k: file.get(k) for k in file.keys()}
        configs = resolve_configs(file, detect_family(file))
    changes = {}
    for target in extraction_targets(family, configs, True, False):
        weight = state[target.key].float()
        rows = weight.shape[0] // 3 if target.third is not None else weight.shape[0]
        view = weight[target.third * rows:(target.third + 1) * rows] if target.third is not None \
            else weight
        matrix = view.flatten(1)  # SD1's proj_in/out are 1×1 convolutions
        rank = min(64, *matrix.shape)
        u = torch.linalg.qr(torch.randn(matrix.shape[0], rank, generator=generator))[0]
        v = torch.linalg.qr(torch.randn(matrix.shape[1], rank, generator=generator))[0]
        s = 0.92 ** torch.arange(rank, dtype=torch.float32)
        s = s / s.norm() * float(matrix.norm()) * 0.1
        noise = 1e-3 * float(matrix.std()) * torch.randn(matrix.shape, generator=generator)
        view += ((u * s) @ v.T + noise).reshape(view.shape)
        state[target.key] = weight.half()
        changes[target.name] = (u * s, v)
    save_state_dict(state, tuned)
    torch.save(changes, truth)
    return base, tuned, truth


def run_ours(base: Path, tuned: Path, rank: int) -> dict:
    import os
    import tempfile

    import torch  # noqa: F401 - imported before the clock starts, as in the reference

    from lora_for_dummies.checkpoints.hashing import sha256_file
    from lora_for_dummies.extract.run import ExtractSettings, extract_lora
    from lora_for_dummies.lora.lowrank import RankRule

    # The LoRA's metadata names both files' sha256 (kohya's script writes none). Hashing is
    # timed on its own, from an empty cache: it is paid once per file (the cache is keyed by
    # path, size and mtime; the Models tab and the webui hash the same files).
    os.environ["LFD_CACHE_DIR"] = tempfile.mkdtemp(prefix="lfd-bench-hashes-")
    start = time.perf_counter()
    sha256_file(base), sha256_file(tuned)
    hash_seconds = time.perf_counter() - start
    start = time.perf_counter()
    report = extract_lora(base, tuned, OUT, f"ours-{base.stem}",
                          ExtractSettings(rule=RankRule(rank=rank)), overwrite=True)
    seconds = time.perf_counter() - start
    rss = peak_rss_gb()
    from lora_for_dummies.lora.format import load_lora

    modules, _ = load_lora(OUT / f"ours-{base.stem}.safetensors")
    factors = {n: (m.up.float().flatten(1) * m.scale, m.down.float().flatten(1))
               for n, m in modules.items()}
    return {"seconds": seconds, "rss": rss, "factors": factors, "modules": len(report.modules),
            "hash_seconds": hash_seconds}


def run_reference(base: Path, tuned: Path, rank: int) -> dict:
    """What kohya's `extract_lora_from_models.py` does: both models in memory in fp32, a full
    `torch.linalg.svd(mat)` per module (its default full_matrices=True), clamp at the 0.99
    quantile of the factors' values."""
    import torch

    from lora_for_dummies.checkpoints.detect import detect_family
    from lora_for_dummies.checkpoints.models import load_models
    from lora_for_dummies.checkpoints.reader import CheckpointFile
    from lora_for_dummies.lora.targets import extraction_targets

    start = time.perf_counter()
    models_a = load_models(base, components=None)
    models_b = load_models(tuned, components=None)
    with CheckpointFile(base) as file:
        family = detect_family(file)
    targets = extraction_targets(family, models_a.configs, True, False)
    factors, optimal = {}, {}
    for target in targets:
        module_a = models_a.models[target.part].get_submodule(_own(models_a, target))
        module_b = models_b.models[target.part].get_submodule(_own(models_b, target))
        delta = (module_b.weight.float() - module_a.weight.float()).flatten(1)
        # As kohya's script calls it: `torch.linalg.svd(mat)`, i.e. full_matrices=True.
        u, s, vh = torch.linalg.svd(delta)
        u, s, vh = u[:, :rank], s[:rank], vh[:rank]
        optimal[target.name] = (u * s, vh)
        u = u @ torch.diag(s)
        values = torch.cat([u.flatten(), vh.flatten()])
        limit = torch.quantile(values, 0.99)  # kohya: hi = quantile(dist, 0.99), lo = -hi
        factors[target.name] = (u.clamp(-limit, limit), vh.clamp(-limit, limit))
    return {"seconds": time.perf_counter() - start, "rss": peak_rss_gb(), "factors": factors,
            "optimal": optimal}


def peak_rss_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _own(loaded, target) -> str:
    names = dict(loaded.models[target.part].named_modules())
    if target.module in names:
        return target.module
    return target.module.removeprefix("text_model.")


def errors(factors: dict, truth: dict) -> float:
    """Mean relative error of up·down against the true change, one module at a time."""
    values = []
    for name, (us, v) in truth.items():
        change = us @ v.T
        up, down = factors[name]
        values.append(float((up @ down - change).norm() / change.norm()))
    return sum(values) / len(values)


def child(which: str, family: str, rank: int) -> None:
    import torch

    base, tuned, truth_path = make_pair(family)
    result = run_ours(base, tuned, rank) if which == "ours" else run_reference(base, tuned, rank)
    truth = torch.load(truth_path, weights_only=True)
    summary = {"seconds": result["seconds"], "rss": result["rss"],
               "error_vs_truth": errors(result["factors"], truth),
               "hash_seconds": result.get("hash_seconds")}
    if "optimal" in result:
        summary["optimal_error_vs_truth"] = errors(result["optimal"], truth)
    print("RESULT " + json.dumps(summary))


def measure(which: str, family: str, rank: int) -> dict:
    """Run one contender in a fresh process; its peak RSS is taken when its work is done,
    before the accuracy check (which holds the true changes) runs."""
    output = subprocess.run([sys.executable, __file__, "--child", which, "--family", family,
                             "--rank", str(rank)], stdout=subprocess.PIPE, text=True,
                            check=True).stdout
    result = json.loads(next(line for line in output.splitlines()
                             if line.startswith("RESULT "))[7:])
    result["peak_rss_gb"] = result["rss"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="sd1", choices=["sd1", "sd2", "sdxl"])
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--child", choices=["ours", "reference"])
    args = parser.parse_args()
    if args.child:
        child(args.child, args.family, args.rank)
        return
    start = time.perf_counter()
    make_pair(args.family)
    print(f"pair ready ({time.perf_counter() - start:.0f} s)")
    ours = measure("ours", args.family, args.rank)
    print(f"ours      : {ours['seconds']:7.1f} s, peak RSS {ours['peak_rss_gb']:.2f} GB, "
          f"mean error vs the true change {ours['error_vs_truth']:.4f} (+ "
          f"{ours['hash_seconds']:.1f} s to hash both files the first time they are seen)")
    if args.no_reference:
        return
    ref = measure("reference", args.family, args.rank)
    print(f"reference : {ref['seconds']:7.1f} s, peak RSS {ref['peak_rss_gb']:.2f} GB, "
          f"mean error vs the true change {ref['error_vs_truth']:.4f}")
    print(f"optimal rank-{args.rank} error vs the true change: "
          f"{ref['optimal_error_vs_truth']:.4f}")
    cold = ours["seconds"] + ours["hash_seconds"]
    print(f"speed-up {ref['seconds'] / ours['seconds']:.1f}x ({ref['seconds'] / cold:.1f}x "
          f"including the first-time hashing), memory "
          f"{ref['peak_rss_gb'] / ours['peak_rss_gb']:.1f}x less, our error / optimal "
          f"{ours['error_vs_truth'] / ref['optimal_error_vs_truth']:.4f}")


if __name__ == "__main__":
    main()
