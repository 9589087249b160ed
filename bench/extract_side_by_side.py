"""bench/extract.py --kohya: ours and kohya's real extractor on the same pair, alternating, N
runs each with the files in the page cache (warm) and N read from disk (cold); medians,
accuracy against the known change, the modules each side dropped, and ours / kohya ratios.
"""

from __future__ import annotations

import json
import statistics
from argparse import Namespace
from collections.abc import Callable
from pathlib import Path

from kohya_extract import (
    drop_caches,
    kohya_commit,
    kohya_env,
    run_kohya,
    text_encoder_note,
    warm_up,
)

OUT = Path(__file__).resolve().parent / "out"
FLAGS = {"sd1": [], "sd2": ["--v2"], "sdxl": ["--sdxl"]}


def kohya_side_by_side(args: Namespace, measure: Callable[..., dict]) -> None:
    checkout = args.kohya.resolve()
    python = args.kohya_python or str(checkout / "venv" / "bin" / "python")
    env, note = kohya_env(checkout, python, OUT)
    print(f"kohya-ss/sd-scripts at {kohya_commit(checkout, args.kohya_commit)}, run by {python}")
    print(f"  {note}")
    base, tuned = OUT / f"{args.family}-base.safetensors", OUT / f"{args.family}-tuned.safetensors"
    ours_lora, kohya_lora = OUT / f"ours-{args.family}.safetensors", \
        OUT / f"kohya-{args.family}.safetensors"
    runs: dict[str, dict[str, list[dict]]] = {}
    for cache in [c.strip() for c in args.caches.split(",") if c.strip()]:
        if cache == "cold" and (problem := drop_caches()):
            print(f"cold: {problem}; skipped")
            continue
        for index in range(args.runs):
            for who in ("ours", "kohya"):  # alternating: a busier minute hits both sides
                if cache == "cold":
                    drop_caches()
                else:
                    warm_up(base, tuned)
                if who == "ours":
                    result = measure("ours", args.family, args.rank, ours_lora)
                else:
                    wall, rss = run_kohya(checkout, python, env, base, tuned, kohya_lora,
                                          args.rank, FLAGS[args.family])
                    result = {"wall": wall, "peak_rss_gb": rss}
                runs.setdefault(cache, {}).setdefault(who, []).append(result)
                split = f" (extraction with hashing {result['seconds']:.1f} s)" \
                    if "seconds" in result else ""
                print(f"  {cache} run {index + 1}/{args.runs} {who:5}: {result['wall']:7.1f} s"
                      f"{split}, peak RSS {result['peak_rss_gb']:.2f} GB", flush=True)
                # Kept as it goes: a long series stopped early still has its runs.
                (OUT / f"extract-kohya-runs-{args.family}.json").write_text(json.dumps(runs))
    ours = measure("evaluate", args.family, args.rank, ours_lora)
    kohya = measure("evaluate", args.family, args.rank, kohya_lora)
    _print_summary(args, runs, ours, kohya, text_encoder_note(kohya_lora.with_suffix(".log")))


def _median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def _print_summary(args: Namespace, runs: dict, ours: dict, kohya: dict, kohya_te: str) -> None:
    print(f"\n{args.family}, rank {args.rank}; wall = the whole process (python start, imports, "
          "reading, SVD, writing); ours includes hashing both files from an empty cache")
    for cache, sides in runs.items():
        where = "files in the page cache" if cache == "warm" else "page cache dropped first"
        print(f"{cache} ({where}), median of {len(sides['ours'])}:")
        for who, results in sides.items():
            walls = ", ".join(f"{r['wall']:.1f}" for r in results)
            extra = ""
            if who == "ours":
                extra = f" (extraction with hashing {_median(results, 'seconds'):.1f} s)"
            print(f"  {who:5}: {_median(results, 'wall'):7.1f} s{extra}, peak RSS "
                  f"{_median(results, 'peak_rss_gb'):.2f} GB   [runs: {walls} s]")
        time_ratio = _median(sides["ours"], "wall") / _median(sides["kohya"], "wall")
        rss_ratio = _median(sides["ours"], "peak_rss_gb") / _median(sides["kohya"], "peak_rss_gb")
        print(f"  ours / kohya: time {time_ratio:.3f}, peak RSS {rss_ratio:.3f}")
    print("accuracy (mean relative error of up·down vs the true change):")
    for who, result in (("ours", ours), ("kohya", kohya)):
        dropped = ", ".join(f"{part}: {n} modules" for part, n in result["dropped"].items())
        print(f"  {who:5}: {result['error_vs_truth']:.4f} over the {result['kept']} modules "
              f"it wrote; dropped {dropped or 'none'}; {result['error_all']:.4f} counting a "
              "dropped module as error 1")
    if kohya_te:
        print(f"  kohya's min_diff rule said: text encoder is {kohya_te}")
    skipped = [r.get("skipped_parts") for sides in runs.values() for r in sides["ours"]]
    if any(skipped):
        print(f"  ours skipped parts: {skipped[-1]}")
    print(f"  ours / kohya error: {ours['error_vs_truth'] / kohya['error_vs_truth']:.3f} "
          f"(kept modules), {ours['error_all'] / kohya['error_all']:.3f} (dropped = 1)")
