"""Training side by side with the real diffusers example, `train_dreambooth_lora.py`: step time,
peak memory and time to the first step, ours / theirs, in one run.

    python bench/train_example.py --script train_dreambooth_lora.py
    python bench/train_example.py --script S --cases 256:off 512:off 512:full 512:partial \\
        --steps 6 --runs 2

Set up once, in a venv of its own in which ours runs too (both sides then use the same torch,
diffusers, transformers, peft and accelerate):

    python -m venv V && V/bin/pip install torch torchvision diffusers transformers accelerate \\
        peft safetensors Pillow
    git -C DIFFUSERS_CHECKOUT show v0.40.0:examples/dreambooth/train_dreambooth_lora.py \\
        > train_dreambooth_lora.py      # the example of a release the installed diffusers meets
    V/bin/python bench/train_example.py --script train_dreambooth_lora.py

(PyPI's Linux torchvision needs PyPI's torch of its own release; a CPU-only torch beside it fails
with "operator torchvision::nms does not exist".)

What runs: the full-size SD1.5 architecture with random weights, the file bench/train_step.py
writes (fp16, as most shared files are); the example reads the same weights, converted once to
the diffusers folder it expects. 8 images of 768 px, resized to the case's resolution, caption
"sks, dog, photo"; batch 1; rank 32 on the UNet's attention (the same 128 modules, 6 377 472
weights, on both sides); constant learning rate 1e-4; fp32 (the CPU); text encoder frozen.
A case is RESOLUTION:OURS, OURS our gradient checkpointing: with "full" the example gets
`--gradient_checkpointing` (the whole UNet, as ours does); with "off" and "partial" (ours, the
Performance Wizard's choice without a GPU) the example runs without, its default.

Each side runs in its own process, alternating, `--runs` times; medians are reported. Step time:
the steps after the first. Peak RSS: the process's own (`VmHWM`) when its last step ends — after
that the example writes its LoRA and loads the whole pipeline again for a final inference, which
is not training. Time to first step: from the process's start (before torch is imported) to the
end of step 1 — imports, loading, ours' latent and caption cache, the step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))
from train_step import BASES, CAPTION, OUT, prepare  # noqa: E402

IMAGES = 8


def diffusers_folder(base: Path) -> Path:
    """The base as the diffusers folder the example loads (`from_pretrained`), its weights as
    stored in the single file."""
    folder = OUT / f"{base.stem}-diffusers"
    if (folder / "model_index.json").exists():
        return folder
    import torch
    from diffusers import DDPMScheduler, StableDiffusionPipeline

    from lora_for_dummies.checkpoints.models import load_models
    from lora_for_dummies.families import bundled_config
    from lora_for_dummies.tokenizer import clip_tokenizer

    models = load_models(base, dtype=torch.float16).models
    scheduler = {k: v for k, v in bundled_config("sd1", "scheduler").items()
                 if not k.startswith("_")}
    StableDiffusionPipeline(
        unet=models["unet"], vae=models["vae"], text_encoder=models["text_encoder"],
        tokenizer=clip_tokenizer(), scheduler=DDPMScheduler.from_config(scheduler),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    ).save_pretrained(folder)
    return folder


def images_only(images: Path) -> Path:
    """The example reads every file of its folder as an image: the same pictures, no captions
    (its prompt is the caption)."""
    folder = images.with_name(images.name + "-pictures")
    folder.mkdir(exist_ok=True)
    for picture in images.glob("*.png"):
        if not (folder / picture.name).exists():
            os.link(picture, folder / picture.name)
    return folder


def _result(command: list[str], cwd: Path) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    done = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    lines = done.stdout.splitlines()
    # a progress bar may share the result's line (it ends in a carriage return, no newline)
    found = [line[line.index("RESULT ") + 7:] for line in lines if "RESULT " in line]
    if done.returncode or not found:
        sys.exit(f"{command[1]} failed ({done.returncode}):\n" + "\n".join(lines[-20:]))
    return json.loads(found[-1])


def run_example(script: Path, folder: Path, pictures: Path, resolution: int, checkpointing: bool,
                steps: int, work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    arguments = ["--pretrained_model_name_or_path", str(folder),
                 "--instance_data_dir", str(pictures), "--instance_prompt", CAPTION,
                 "--output_dir", str(work / "out"), "--resolution", str(resolution),
                 "--train_batch_size", "1", "--max_train_steps", str(steps),
                 "--learning_rate", "1e-4", "--lr_scheduler", "constant",
                 "--lr_warmup_steps", "0", "--rank", "32", "--seed", "1",
                 "--mixed_precision", "no", "--dataloader_num_workers", "0"]
    if checkpointing:
        arguments.append("--gradient_checkpointing")
    return _result([sys.executable, str(BENCH / "example_child.py"), "--script",
                    str(script.resolve()), "--steps", str(steps), "--", *arguments], work)


def run_ours(resolution: int, checkpointing: str, steps: int) -> dict:
    return _result([sys.executable, str(BENCH / "train_step.py"), "--child", "ours",
                    "--resolutions", str(resolution), "--steps", str(steps), "--checkpointing",
                    checkpointing, "--images", str(IMAGES)], ROOT)


def _median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def _wall(result: dict) -> float:
    return result["first_step"] + sum(result["step_times"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", type=Path, required=True,
                        help="diffusers' examples/dreambooth/train_dreambooth_lora.py")
    parser.add_argument("--cases", nargs="+", default=["256:off", "512:off", "512:full",
                                                       "512:partial"])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    if not args.script.is_file():
        sys.exit(f"no such script: {args.script}")
    images = prepare("sd1", IMAGES)
    folder, pictures = diffusers_folder(BASES["sd1"]), images_only(images)
    print(f"sd1 full size, CPU fp32, batch 1, rank 32 on attention, {IMAGES} images, "
          f"{args.steps} steps, {args.runs} runs per side alternated; example: {args.script}")
    for case in args.cases:
        resolution, checkpointing = int(case.split(":")[0]), case.split(":")[1]
        sides: dict[str, list[dict]] = {"ours": [], "example": []}
        for run in range(args.runs):
            sides["ours"].append(run_ours(resolution, checkpointing, args.steps))
            sides["example"].append(run_example(
                args.script, folder, pictures, resolution, checkpointing == "full", args.steps,
                OUT / f"example-{resolution}-{checkpointing}-{run}"))
        example_mode = "--gradient_checkpointing" if checkpointing == "full" else "none"
        print(f"{resolution} px, our checkpointing {checkpointing}, the example's "
              f"{example_mode}:")
        summary = {}
        for who, results in sides.items():
            for r in results:
                r["step"], r["wall"] = statistics.median(r["step_times"]), _wall(r)
            summary[who] = {key: _median(results, key)
                            for key in ("step", "peak_steps", "first_step", "wall")}
            s = summary[who]
            runs = ", ".join(f"{r['step']:.2f} s/{r['peak_steps']:.2f} GB" for r in results)
            print(f"  {who:8} {s['step']:6.2f} s/step, peak RSS {s['peak_steps']:.2f} GB, first "
                  f"step after {s['first_step']:.1f} s, {args.steps} steps in {s['wall']:.1f} s"
                  f"   [runs: {runs}]")
        ours, theirs = summary["ours"], summary["example"]
        print(f"  ours / example: step time {ours['step'] / theirs['step']:.2f}x, peak RSS "
              f"{ours['peak_steps'] / theirs['peak_steps']:.2f}x, time to first step "
              f"{ours['first_step'] / theirs['first_step']:.2f}x, wall "
              f"{ours['wall'] / theirs['wall']:.2f}x", flush=True)


if __name__ == "__main__":
    main()
