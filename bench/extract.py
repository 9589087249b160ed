"""Extraction speed, memory and accuracy: ours vs kohya's `extract_lora_from_models.py`.

    python bench/extract.py [--family sd1|sdxl] [--rank 32] [--no-reference]
    python bench/extract.py --kohya /work/kohya-sd-scripts \
        --kohya-python /work/kohya-venv/bin/python [--runs 3] [--caches warm,cold]

Without --kohya the other side is a reference written the way kohya's script works (both models
fully loaded, a full `torch.linalg.svd` per module, 0.99 quantile clamp), one run each. With
--kohya it is kohya's real script from that checkout, with its defaults (min_diff 0.01, clamp
0.99; fp16 output like ours), median of --runs 3 runs each, warm (files in the page cache) and
cold (`sync; echo 3 > /proc/sys/vm/drop_caches` before every run: needs root, else the bench
says so and skips cold). Every contender runs in its own process, so peak RSS is its own. The
error is against the known change; a module a side did not write (kohya's min_diff rule drops
the whole text encoder when its largest change is below 0.01) is listed as dropped.

The pair: a random full-size base (fp16) and tuned = base + a rank-64 change with a decaying
spectrum (+ noise) in every UNet attention/MLP layer and every text-encoder layer.

Setting up kohya's side (CPU only, no Hugging Face hub needed; the commit measured is in
docs/performance.md):

    git clone https://github.com/kohya-ss/sd-scripts /work/kohya-sd-scripts
    git -C /work/kohya-sd-scripts checkout 48d368fa
    python3.11 -m venv /work/kohya-venv
    /work/kohya-venv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
    /work/kohya-venv/bin/pip install torchvision==0.28.0 --index-url https://download.pytorch.org/whl/cpu
    /work/kohya-venv/bin/pip install diffusers==0.32.1 transformers==4.54.1 accelerate==1.6.0 \
        safetensors==0.4.5 einops==0.7.0 opencv-python-headless==4.10.0.84 \
        huggingface-hub==0.34.3 rich==14.1.0 tqdm numpy toml==0.10.2 voluptuous==0.15.2 \
        ftfy==6.3.1 imagesize==1.4.1

(Those pins are sd-scripts' requirements.txt; the extractor needs no more of it. Where torch comes
from a local CPU wheel and only PyPI is reachable, skip the torchvision line: PyPI's torchvision
is a CUDA build that cannot load next to a CPU torch, and the bench then puts an empty stand-in
on PYTHONPATH, saying so, since the extractor imports but never calls it.) The bench runs the
script from the checkout with PYTHONPATH=checkout (what sd-scripts' `pip install -e .` does) and
HF_HUB_OFFLINE=1: an SD1 model's text-encoder config is written in kohya's code, nothing is
downloaded. Pass --kohya-commit if the checkout is not a git work tree.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"

from kohya_extract import timed_process  # noqa: E402 - bench/ is this script's own folder
from rss import peak_rss_gb  # noqa: E402 - this process's own peak, not ru_maxrss


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


def run_ours(base: Path, tuned: Path, rank: int, name: str) -> dict:
    import os
    import tempfile

    import torch  # noqa: F401 - imported before the clock starts, as in the reference

    from lora_for_dummies.extract.run import ExtractSettings, extract_lora
    from lora_for_dummies.lora.lowrank import RankRule

    # The LoRA's metadata names both files' sha256 (kohya's script writes none). The extraction
    # hashes them beside its own reading (checkpoints/hashing.py HashAhead); from an empty cache
    # here, so the time is what a file never seen before costs.
    os.environ["LFD_CACHE_DIR"] = tempfile.mkdtemp(prefix="lfd-bench-hashes-")
    start = time.perf_counter()
    report = extract_lora(base, tuned, OUT, name, ExtractSettings(rule=RankRule(rank=rank)),
                          overwrite=True)
    seconds = time.perf_counter() - start
    skipped = {part: info["reason"] for part, info in report.parts.items() if info["skipped"]}
    return {"seconds": seconds, "rss": peak_rss_gb(), "modules": len(report.modules),
            "skipped_parts": skipped}


def lora_factors(path: Path) -> dict:
    from lora_for_dummies.lora.format import load_lora

    modules, _ = load_lora(path)
    return {n: (m.up.float().flatten(1) * m.scale, m.down.float().flatten(1))
            for n, m in modules.items()}


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


def accuracy(factors: dict, truth: dict) -> dict:
    """Errors over the modules a LoRA holds, and the changed modules it dropped (by part): a
    dropped module's error is 1 (the LoRA holds none of its change)."""
    kept = {n: c for n, c in truth.items() if n in factors}
    dropped: dict[str, int] = {}
    for name in truth.keys() - kept.keys():
        part = "unet" if name.startswith("lora_unet_") else "text encoder"
        dropped[part] = dropped.get(part, 0) + 1
    error_kept = errors(factors, kept) if kept else 1.0
    return {"error_vs_truth": error_kept, "kept": len(kept), "dropped": dropped,
            "error_all": (error_kept * len(kept) + len(truth) - len(kept)) / len(truth)}


def child(which: str, family: str, rank: int, lora: str | None) -> None:
    import torch

    base, tuned, truth_path = make_pair(family)
    if which == "make":
        return
    if which == "ours":  # its output is judged by the `evaluate` child, out of its process
        print("RESULT " + json.dumps(run_ours(base, tuned, rank, Path(lora).stem)))
        return
    truth = torch.load(truth_path, weights_only=True)
    if which == "evaluate":
        print("RESULT " + json.dumps(accuracy(lora_factors(Path(lora)), truth)))
        return
    result = run_reference(base, tuned, rank)
    summary = {"seconds": result["seconds"], "rss": result["rss"],
               **accuracy(result["factors"], truth),
               "optimal_error_vs_truth": errors(result["optimal"], truth)}
    print("RESULT " + json.dumps(summary))


def measure(which: str, family: str, rank: int, lora: Path | None = None) -> dict:
    """Run one contender in a fresh process (this one stays small: a child starts with its
    parent's resident size). Adds `wall` (the whole process) and `peak_rss_gb` (from wait4,
    taken when its work is done: the accuracy check runs in a process of its own)."""
    command = [sys.executable, __file__, "--child", which, "--family", family,
               "--rank", str(rank)] + (["--lora", str(lora)] if lora else [])
    wall, rss, output = timed_process(command)
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    result = json.loads(lines[0][7:]) if lines else {}
    result.update(wall=wall, peak_rss_gb=result.get("rss", rss))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="sd1", choices=["sd1", "sd2", "sdxl"])
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--kohya", type=Path, help="a checkout of kohya-ss/sd-scripts: run its "
                        "extractor instead of the built-in reference")
    parser.add_argument("--kohya-python", help="its environment's python (default: "
                        "KOHYA/venv/bin/python)")
    parser.add_argument("--kohya-commit", help="the checkout's commit, if it is no git checkout")
    parser.add_argument("--runs", type=int, default=3, help="runs per contender and cache state "
                        "(with --kohya)")
    parser.add_argument("--caches", default="warm,cold", help="with --kohya: warm, cold or both")
    parser.add_argument("--child", choices=["make", "ours", "reference", "evaluate"])
    parser.add_argument("--lora", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.family, args.rank, args.lora)
        return
    start = time.perf_counter()
    measure("make", args.family, args.rank)
    print(f"pair ready ({time.perf_counter() - start:.0f} s)")
    if args.kohya:
        from extract_side_by_side import kohya_side_by_side

        kohya_side_by_side(args, measure)
        return
    lora = OUT / f"ours-{args.family}.safetensors"
    ours = measure("ours", args.family, args.rank, lora)
    ours.update(measure("evaluate", args.family, args.rank, lora))
    print(f"ours      : {ours['seconds']:7.1f} s, peak RSS {ours['peak_rss_gb']:.2f} GB, "
          f"mean error vs the true change {ours['error_vs_truth']:.4f} (hashing both files "
          "from an empty cache included)")
    if args.no_reference:
        return
    ref = measure("reference", args.family, args.rank)
    print(f"reference : {ref['seconds']:7.1f} s, peak RSS {ref['peak_rss_gb']:.2f} GB, "
          f"mean error vs the true change {ref['error_vs_truth']:.4f}")
    print(f"optimal rank-{args.rank} error vs the true change: "
          f"{ref['optimal_error_vs_truth']:.4f}")
    print(f"speed-up {ref['seconds'] / ours['seconds']:.1f}x, memory "
          f"{ref['peak_rss_gb'] / ours['peak_rss_gb']:.1f}x less, our error / optimal "
          f"{ours['error_vs_truth'] / ref['optimal_error_vs_truth']:.4f}")


if __name__ == "__main__":
    main()
