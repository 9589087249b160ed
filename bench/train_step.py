"""Training step time, peak memory and loss curve: our loop vs a reference loop written the way
diffusers' `train_dreambooth_lora.py` / `train_dreambooth_lora_sdxl.py` do it (peft LoRA on
attention, VAE and text encoder(s) run every step, no caching). Full-size architecture (random
weights), batch 1, rank 32; ours with the settings that coincide (attention-only LoRA, constant
LR, text encoder frozen), so in fp32 the two loss curves must agree step by step. Ours also
checkpoints gradients as chosen (`--checkpointing`, default partial: what the Performance Wizard
picks without a GPU); recomputing changes memory and time, never the loss.

    python bench/train_step.py [--resolutions 256 512] [--steps 4]            # CPU, fp32
    python bench/train_step.py --device cuda --precision fp16 --resolutions 512
    python bench/train_step.py --device cuda --precision bf16 --family sdxl --resolutions 1024
    python bench/train_step.py --device cuda --preset sdxl-8gb --steps 8   # a Wizard tier

Each contender runs in its own process, so peak memory is its own: peak RSS on the CPU, peak
allocated VRAM on a GPU. Step time is the median of the steps after the first (which includes
one-time caching in ours); it/s is its inverse. Time to first step counts from the child's start
(before torch is imported) to the end of step 1: loading, caching and the first step.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
from rss import peak_rss_gb  # noqa: E402

OUT = ROOT / "bench" / "out" / "train"
BASES = {"sd1": ROOT / "bench" / "out" / "sd1-base.safetensors",
         "sdxl": ROOT / "bench" / "out" / "sdxl-base.safetensors"}


CAPTION = "sks, dog, photo"


def prepare(family: str, count: int = 1) -> Path:
    """The base model (fp16, as most shared files are) and `count` 768 px training images (one
    by default, so both loops here see the same order), each captioned CAPTION."""
    import torch
    from imagegen import photo, save

    from lora_for_dummies.checkpoints.synthetic import write_random_checkpoint

    if not BASES[family].exists():
        write_random_checkpoint(BASES[family], family, tiny=False, dtype=torch.float16)
    images = OUT / f"images-{count}"
    for index in range(count):
        if not (images / f"{index}.png").exists():
            save(photo(768, 768, index), images / f"{index}.png")
            (images / f"{index}.txt").write_text(CAPTION)
    return images


# When things happened in this process (time.perf_counter()): "start", "first_step"; and
# "peak_steps", the peak RSS in GB when the last step so far ended.
MARKS: dict[str, float] = {}


def _step_ended() -> None:
    MARKS.setdefault("first_step", time.perf_counter())
    MARKS["peak_steps"] = peak_rss_gb()


# `--profile N`: torch's profiler over step N of a child (1: loading done, caching inside; 2:
# a steady step).
PROFILE: dict[str, Any] = {"step": 0, "profiler": None}
PROFILE_ROWS = 15


def _profile_step(done: int) -> None:
    """Start the profiler when step N - 1 ends, print its table when step N ends."""
    if not PROFILE["step"]:
        return
    import torch

    if done == PROFILE["step"] - 1:
        PROFILE["profiler"] = torch.profiler.profile(activities=[
            torch.profiler.ProfilerActivity.CPU])
        PROFILE["profiler"].start()
    elif done == PROFILE["step"] and PROFILE["profiler"] is not None:
        profiler, PROFILE["profiler"] = PROFILE["profiler"], None
        profiler.stop()
        table = profiler.key_averages().table(sort_by="self_cpu_time_total",
                                              row_limit=PROFILE_ROWS)
        print(f"PROFILE step {done}, by self CPU time:\n" + table, flush=True)


def _first_step_reporter() -> Any:
    """A Reporter that notes when each step ends (the trainer reports step 0 before step 1)."""
    from lora_for_dummies.progress import Reporter

    class StepMarks(Reporter):
        def step(self, done: int, text: str = "") -> None:
            if done:
                _step_ended()
            _profile_step(done)  # step 0: loading is done, step 1 begins
            super().step(done, text)

    return StepMarks()


def ours(base: Path, images: Path, resolution: int, steps: int, run: Path, seed: int = 1,
         lr: float = 1e-4, rank: int = 32, precision: str = "fp32", device: str = "cpu",
         checkpointing: str = "partial") -> tuple[list[float], list[float]]:
    """Our Trainer with the settings that coincide with the reference: attention-only LoRA on
    the UNet, constant learning rate, text encoder not trained. Returns (seconds, losses)."""
    from lora_for_dummies.train.config import TrainJob
    from lora_for_dummies.train.loop import Trainer

    shutil.rmtree(run, ignore_errors=True)  # an earlier run's log and files: a fresh start
    job = TrainJob.from_dict({
        "model": {"base": str(base)},
        "concepts": [{"folder": str(images), "token": "sks", "repeats": 1}],
        "network": {"rank": rank, "alpha": rank, "train_text_encoder": False,
                    "unet_layers": "attention"},
        "optimizer": {"unet_lr": lr, "scheduler": "constant", "warmup": 0},
        "training": {"steps": steps, "resolution": resolution, "precision": precision,
                     "buckets": False, "seed": seed, "gradient_checkpointing": checkpointing},
        "samples": {"enabled": False},
        "save": {"name": f"bench-{resolution}", "every": 0, "lora_dir": str(run / "Lora")},
        "runs_dir": str(run)})
    Trainer(job, run / "Lora", reporter=_first_step_reporter(), device=device,
            overwrite=True).run()
    records = [json.loads(line) for line in
               (run / f"bench-{resolution}" / "log.jsonl").read_text().splitlines()]
    records = [r for r in records if "loss" in r]
    return [r["seconds"] for r in records], [r["loss"] for r in records]


def reference(base: Path, images: Path, resolution: int, steps: int, seed: int = 1,
              lr: float = 1e-4, rank: int = 32, precision: str = "fp32", device: str = "cpu",
              v_prediction: bool = False, zero_terminal_snr: bool = False
              ) -> tuple[list[float], list[float]]:
    """The diffusers examples' loop: models in the weight dtype on the device (the SDXL VAE in
    fp32), peft LoRA on to_q/k/v/out cast to fp32, accelerate's mixed precision, the VAE and
    the text encoder(s) every step, AdamW, gradient clipping at 1.0, SDXL's size/crop
    conditioning. Where the examples leave a choice free it takes ours, so that the loss
    curves can be compared: the same image order (one image), the VAE's mean latent, noise and
    timesteps from a per-step generator, the global seed set just before the LoRA is injected.
    `v_prediction` / `zero_terminal_snr` configure the scheduler the way the examples'
    `--prediction_type v_prediction` and diffusers' `rescale_betas_zero_snr` option do (the
    target then comes from `get_velocity`). Returns (seconds, losses)."""
    import torch
    import torch.nn.functional as F
    from accelerate import Accelerator
    from diffusers import DDPMScheduler
    from peft import LoraConfig, inject_adapter_in_model
    from PIL import Image

    from lora_for_dummies.checkpoints.models import load_models
    from lora_for_dummies.families import bundled_config
    from lora_for_dummies.train.data import Item, load_pixels
    from lora_for_dummies.train.text import encode_tokens, token_batch

    accelerator = Accelerator(mixed_precision={"fp32": "no"}.get(precision, precision),
                              cpu=device == "cpu")
    weight_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision,
                                                                       torch.float32)
    loaded = load_models(base, dtype=weight_dtype, device=str(accelerator.device))
    family, models = loaded.family, loaded.models
    unet, vae = models["unet"], models["vae"]
    if family == "sdxl":
        vae.to(torch.float32)  # the SDXL example's VAE overflows in fp16
    texts = [models[n] for n in ("text_encoder", "text_encoder_2") if n in models]
    torch.manual_seed(seed)
    inject_adapter_in_model(LoraConfig(r=rank, lora_alpha=rank,
                                       target_modules=["to_k", "to_q", "to_v", "to_out.0"]),
                            unet)
    params = [p for n, p in unet.named_parameters() if "lora_" in n]
    for p in params:
        p.data = p.data.float()
        p.requires_grad_(True)
    unet.train()
    optimizer = torch.optim.AdamW(params, lr=lr)
    unet, optimizer = accelerator.prepare(unet, optimizer)
    config = bundled_config("sd1", "scheduler")
    config.pop("_class_name")
    scheduler = DDPMScheduler.from_config(
        config, prediction_type="v_prediction" if v_prediction else "epsilon",
        rescale_betas_zero_snr=zero_terminal_snr)
    path = sorted(images.glob("*.png"))[0]
    caption = path.with_suffix(".txt").read_text(encoding="utf-8")
    with Image.open(path) as image:
        original = image.size
    times, losses = [], []
    _profile_step(0)
    for step in range(steps):
        start = time.perf_counter()
        pixels, top_left = load_pixels(Item(path, caption, 0, False, (resolution, resolution),
                                            original))
        with torch.no_grad():
            pixels = pixels[None].to(accelerator.device, vae.dtype)
            latents = vae.encode(pixels).latent_dist.mean * vae.config.scaling_factor
            latents = latents.to(weight_dtype)
            hidden, pooled = encode_tokens(family, texts, token_batch([caption], 3), 1)
        generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
        noise = torch.randn(latents.shape, generator=generator).to(latents)
        timesteps = torch.randint(0, 1000, (1,), generator=generator).to(accelerator.device)
        noisy = scheduler.add_noise(latents, noise, timesteps)
        extra = {}
        if family == "sdxl":
            time_ids = [[original[1], original[0], top_left[0], top_left[1], resolution,
                         resolution]]
            extra["added_cond_kwargs"] = {
                "text_embeds": pooled, "time_ids": torch.tensor(
                    time_ids, dtype=torch.float32, device=accelerator.device)}
        prediction = unet(noisy, timesteps, encoder_hidden_states=hidden, **extra).sample
        target = scheduler.get_velocity(latents, noise, timesteps) \
            if scheduler.config.prediction_type == "v_prediction" else noise
        loss = F.mse_loss(prediction.float(), target.float())
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
        times.append(time.perf_counter() - start)
        _step_ended()
        _profile_step(step + 1)
    return times, losses


def preset(base: Path, images: Path, tier_name: str, steps: int, run: Path, device: str
           ) -> tuple[list[float], list[float]]:
    """Ours with one SDXL VRAM tier's settings exactly as the Performance Wizard sets them
    (rank 16, kohya's layer set, the tier's precision, checkpointing, optimizer, batch)."""
    import torch

    from lora_for_dummies.train.config import TrainJob
    from lora_for_dummies.train.loop import Trainer
    from lora_for_dummies.train.vram_tiers import SDXL_TIERS
    from lora_for_dummies.train.wizard import choose_sdxl

    tier = next(t for t in SDXL_TIERS if t.name == tier_name)
    bf16 = device == "cuda" and torch.cuda.is_bf16_supported()
    data: dict = {"model": {"base": str(base)},
                  "concepts": [{"folder": str(images), "token": "sks", "repeats": 8}],
                  "optimizer": {"scheduler": "constant", "warmup": 0},
                  "training": {"steps": steps}, "samples": {"enabled": False},
                  "save": {"name": tier.name, "every": 0, "lora_dir": str(run / "Lora")},
                  "runs_dir": str(run)}
    choice = choose_sdxl(tier.gigabytes, bf16, eight_bit=True)
    for path, value in choice.settings.items():
        section, key = path.split(".")
        data.setdefault(section, {})[key] = value
    Trainer(TrainJob.from_dict(data), run / "Lora", device=device).run()
    records = [json.loads(line) for line in
               (run / tier.name / "log.jsonl").read_text().splitlines()]
    records = [r for r in records if "loss" in r]
    return [r["seconds"] for r in records], [r["loss"] for r in records]


def child(args: argparse.Namespace) -> None:
    MARKS["start"] = time.perf_counter()  # before torch and the models are loaded
    PROFILE["step"] = args.profile
    import torch

    images = prepare(args.family, args.images)
    resolution, base = args.resolutions[0], BASES[args.family]
    settings = {"precision": args.precision, "device": args.device}
    if args.preset:
        times, losses = preset(base, images, args.preset, args.steps,
                               OUT / f"preset-{args.preset}", args.device)
    elif args.child == "ours":
        times, losses = ours(base, images, resolution, args.steps,
                             OUT / f"ours-{args.family}-{resolution}",
                             checkpointing=args.checkpointing, **settings)
    else:
        times, losses = reference(base, images, resolution, args.steps, **settings)
    if args.device == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**30
    else:
        peak = peak_rss_gb()
    first = MARKS.get("first_step", MARKS["start"]) - MARKS["start"]
    print("RESULT " + json.dumps({"times": times, "step_times": times[1:], "losses": losses,
                                  "peak": peak, "peak_steps": MARKS.get("peak_steps", peak),
                                  "first_step": first}))


def measure(which: str, args: argparse.Namespace, resolution: int) -> dict:
    command = [sys.executable, __file__, "--child", which, "--resolutions", str(resolution),
               "--steps", str(args.steps), "--family", args.family, "--device", args.device,
               "--precision", args.precision, "--checkpointing", args.checkpointing,
               "--images", str(args.images)]
    if args.preset:
        command += ["--preset", args.preset]
    if args.profile:
        command += ["--profile", str(args.profile)]
    output = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True).stdout
    if args.profile:  # the profile's top lines, for the next change to be judged the same way
        table = output[output.index("PROFILE "):output.index("RESULT ")]
        print(f"-- {which}: " + table.rstrip())
    return json.loads(next(line for line in output.splitlines()
                           if line.startswith("RESULT "))[7:])


def report_preset(args: argparse.Namespace) -> None:
    from lora_for_dummies.train.vram_tiers import SDXL_TIERS

    tier = next(t for t in SDXL_TIERS if t.name == args.preset)
    args.family = "sdxl"
    prepare("sdxl")
    result = measure("ours", args, tier.resolution)
    step = statistics.median(result["times"][1:])
    memory = "peak VRAM" if args.device == "cuda" else "peak RSS"
    print(f"{tier.name}: {step:.2f} s/step ({1 / step:.2f} it/s), {memory} "
          f"{result['peak']:.2f} GB | table: {tier.vram_label()} | "
          f"{result['peak'] / tier.estimated_gb:.2f}x the estimate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--family", choices=sorted(BASES), default="sd1")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--precision", choices=["fp32", "fp16", "bf16"], default="fp32")
    parser.add_argument("--checkpointing", choices=["off", "partial", "full"], default="partial",
                        help="our gradient checkpointing (the reference has none)")
    parser.add_argument("--preset", help="ours only, with an SDXL VRAM tier of the Performance "
                        "Wizard (sdxl-8gb, sdxl-12gb, sdxl-16gb, sdxl-24gb): peak VRAM and it/s "
                        "beside the tier's estimate")
    parser.add_argument("--images", type=int, default=1, help="training images (768 px)")
    parser.add_argument("--profile", type=int, choices=[1, 2], default=0, help="print torch's "
                        "profile of each side's step 1 (loading done) or 2 (steady), its top "
                        "lines by self CPU time; that step runs slower for it")
    parser.add_argument("--child", choices=["ours", "reference"])
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.preset:
        report_preset(args)
        return
    prepare(args.family)
    memory = "peak VRAM" if args.device == "cuda" else "peak RSS"
    print(f"{args.family}, {args.device}, {args.precision}, batch 1, rank 32, {args.steps} steps, "
          f"our gradient checkpointing {args.checkpointing}")
    for resolution in args.resolutions:
        a = measure("ours", args, resolution)
        b = measure("reference", args, resolution)
        ta, tb = statistics.median(a["times"][1:]), statistics.median(b["times"][1:])
        print(f"{resolution}px: ours {ta:.2f} s/step ({1 / ta:.2f} it/s), {memory} "
              f"{a['peak']:.2f} GB | reference {tb:.2f} s/step ({1 / tb:.2f} it/s), "
              f"{b['peak']:.2f} GB | step time {ta / tb:.2f}x, memory "
              f"{a['peak'] / b['peak']:.2f}x")
        difference = max(abs(x - y) / abs(y) for x, y in zip(a["losses"], b["losses"],
                                                            strict=True))
        print(f"  time to first step (loading, caching, step 1): ours {a['first_step']:.1f} s, "
              f"reference {b['first_step']:.1f} s, {a['first_step'] / b['first_step']:.2f}x")
        print(f"  losses ours      {' '.join(f'{x:.6f}' for x in a['losses'])}\n"
              f"  losses reference {' '.join(f'{x:.6f}' for x in b['losses'])}\n"
              f"  largest relative difference {difference:.2e}")


if __name__ == "__main__":
    main()
