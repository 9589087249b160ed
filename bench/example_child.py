"""Run diffusers' own `train_dreambooth_lora.py` unchanged, in this process, and time it from
outside its code: for bench/train_example.py.

    python bench/example_child.py --script train_dreambooth_lora.py --steps 6 -- <its arguments>

A global optimizer-step hook (torch's own `register_optimizer_step_post_hook`) notes when each
training step ends and this process's peak RSS so far. After the last step the process ends:
what the script does next (writing its LoRA, loading the whole pipeline again for a final
inference) is not training and would count another model's memory against it. Nothing of the
script is copied or changed; it runs from the user's file with the user's environment.
"""

from __future__ import annotations

import time

START = time.perf_counter()  # before torch and the models: the child's start

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import runpy  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rss import peak_rss_gb  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", type=Path, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("arguments", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    arguments = args.arguments[1:] if args.arguments[:1] == ["--"] else args.arguments

    from torch.optim.optimizer import register_optimizer_step_post_hook

    ends: list[float] = []

    def step_ended(optimizer: object, *_: object) -> None:
        ends.append(time.perf_counter())
        if len(ends) == args.steps:
            between = [b - a for a, b in zip(ends[:-1], ends[1:], strict=True)]
            print("RESULT " + json.dumps({"step_times": between, "first_step": ends[0] - START,
                                          "peak_steps": peak_rss_gb()}), flush=True)
            os._exit(0)

    register_optimizer_step_post_hook(step_ended)
    sys.argv = [str(args.script), *arguments]
    runpy.run_path(str(args.script), run_name="__main__")
    sys.exit(f"the script ended after {len(ends)} of {args.steps} steps")


if __name__ == "__main__":
    main()
