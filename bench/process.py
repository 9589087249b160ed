"""Dataset processing speed: our pipeline vs a naive Pillow loop, side by side, same inputs.

    python bench/process.py [--count 320] [--out bench/out/process]

Inputs: photo-like JPEGs of 12–24 MP and a few PNGs, generated once and reused. Both pipelines
make the same two outputs per image (768 px and 512 px centre crops, PNG). The naive loop is
what most scripts do: open, convert, LANCZOS resize from full resolution, crop, save, one image
at a time. Quality: PSNR and SSIM of our outputs against the naive (full-resolution) ones.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

HIGH, LOW = 768, 512
SIZES = [(4000, 3000), (4240, 2832), (5184, 3456), (6000, 4000), (3000, 4000), (3456, 5184)]


def make_inputs(folder: Path, count: int) -> list[Path]:
    from imagegen import photo

    folder.mkdir(parents=True, exist_ok=True)
    existing = sorted(folder.glob("img*"))
    if len(existing) >= count:
        return existing[:count]
    bases = [photo(*SIZES[i % len(SIZES)], seed=i) for i in range(len(SIZES) * 2)]
    for i in range(count):
        image = bases[i % len(bases)]
        if i % 3 == 1:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        if i % 40 == 39:
            image.save(folder / f"img{i:04d}.png", compress_level=1)
        else:
            image.save(folder / f"img{i:04d}.jpg", quality=88 + i % 8)
        print(f"\rgenerating inputs {i + 1}/{count}", end="", flush=True)
    print()
    return sorted(folder.glob("img*"))[:count]


def naive(sources: list[Path], out: Path) -> None:
    for folder in (out / "high", out / "low"):
        folder.mkdir(parents=True, exist_ok=True)
    for source in sources:
        image = Image.open(source).convert("RGB")
        for resolution, folder in ((HIGH, out / "high"), (LOW, out / "low")):
            scale = resolution / min(image.size)
            size = (max(resolution, round(image.width * scale)),
                    max(resolution, round(image.height * scale)))
            resized = image.resize(size, Image.LANCZOS)
            left, top = (size[0] - resolution) // 2, (size[1] - resolution) // 2
            resized.crop((left, top, left + resolution, top + resolution)).save(
                folder / f"{source.stem}.png", compress_level=4)


def ours(sources: list[Path], root: Path) -> Path:
    from lora_for_dummies.dataset.layout import create_dataset
    from lora_for_dummies.dataset.process import ProcessSettings, process_concept

    dataset = create_dataset(root, "bench")
    originals = dataset.folder(dataset.concept(""), "originals")
    for source in sources:
        target = originals / source.name
        if not target.exists():
            target.symlink_to(source.resolve())
    report = process_concept(dataset, "", ProcessSettings(high=HIGH, low=LOW))
    assert not report.failed, report.lines()[:3]
    return dataset.root


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def ssim(a: np.ndarray, b: np.ndarray, window: int = 7) -> float:
    """Mean SSIM on luminance with a uniform window (the usual constants)."""
    def grey(x: np.ndarray) -> np.ndarray:
        return x.astype(np.float64) @ np.array([0.299, 0.587, 0.114])

    def box(x: np.ndarray) -> np.ndarray:
        c = np.cumsum(np.cumsum(np.pad(x, ((1, 0), (1, 0))), 0), 1)
        return (c[window:, window:] - c[:-window, window:] - c[window:, :-window]
                + c[:-window, :-window]) / window ** 2

    x, y = grey(a), grey(b)
    mx, my = box(x), box(y)
    vx, vy, cov = box(x * x) - mx ** 2, box(y * y) - my ** 2, box(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    value = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return float(value.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=320)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "process")
    args = parser.parse_args()
    sources = make_inputs(args.out / "inputs", args.count)
    megapixels = sum(Image.open(s).width * Image.open(s).height for s in sources) / 1e6
    print(f"{len(sources)} inputs, {megapixels / len(sources):.1f} MP on average")
    for folder in ("naive", "ours"):
        shutil.rmtree(args.out / folder, ignore_errors=True)

    start = time.perf_counter()
    naive(sources, args.out / "naive")
    naive_seconds = time.perf_counter() - start
    start = time.perf_counter()
    root = ours(sources, args.out / "ours")
    our_seconds = time.perf_counter() - start

    scores = {HIGH: [], LOW: []}
    for source in sources[:: max(1, len(sources) // 40)]:
        for resolution, naive_dir, our_dir in ((HIGH, "high", "HIGHRES_CONCEPT"),
                                               (LOW, "low", "LOWRES_CONCEPT")):
            a = np.asarray(Image.open(args.out / "naive" / naive_dir / f"{source.stem}.png"))
            b = np.asarray(Image.open(root / our_dir / f"{source.stem}.png"))
            scores[resolution].append((psnr(a, b), ssim(a, b)))
    print(f"naive Pillow loop : {naive_seconds:7.1f} s  ({len(sources) / naive_seconds:.2f} img/s)")
    print(f"LoRA for Dummies  : {our_seconds:7.1f} s  ({len(sources) / our_seconds:.2f} img/s)")
    print(f"speed-up          : {naive_seconds / our_seconds:.2f}x")
    naive_bytes = sum(f.stat().st_size for f in (args.out / "naive").rglob("*.png"))
    our_bytes = sum(f.stat().st_size for folder in ("HIGHRES_CONCEPT", "LOWRES_CONCEPT")
                    for f in (root / folder).rglob("*.png"))
    print(f"output PNGs       : naive {naive_bytes / 1e6:.0f} MB (zlib level 4), ours "
          f"{our_bytes / 1e6:.0f} MB ({our_bytes / naive_bytes:.2f}x, zlib level 1)")
    for resolution, values in scores.items():
        p = np.mean([v[0] for v in values])
        s = np.mean([v[1] for v in values])
        print(f"quality at {resolution}px vs the full-resolution naive output: PSNR {p:.1f} dB, "
              f"SSIM {s:.4f} ({len(values)} images)")


if __name__ == "__main__":
    main()
