"""Training step time, peak memory and loss curve: our loop vs a reference loop written the way
diffusers' `train_dreambooth_lora.py` does it (peft LoRA on attention, VAE and text encoder run
every step, no caching). Full-size SD1.5 architecture (random weights), batch 1, rank 32; ours
with the settings that coincide (attention-only LoRA, constant LR, text encoder frozen), so the
two loss curves must agree step by step.

    python bench/train_step.py [--resolutions 256 512] [--steps 4]

Each contender runs in its own process (peak RSS is its own); step time is the median of the
steps after the first (which includes one-time caching in ours).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
OUT = ROOT / "bench" / "out" / "train"
BASE = ROOT / "bench" / "out" / "sd1-base.safetensors"


def prepare() -> Path:
    """The base model and one 768 px training image (one, so both loops see the same order)."""
    import torch
    from imagegen import photo, save

    from lora_for_dummies.checkpoints.synthetic import write_random_checkpoint

    if not BASE.exists():
        write_random_checkpoint(BASE, "sd1", tiny=False, dtype=torch.float16)
    images = OUT / "images-1"
    if not (images / "0.png").exists():
        save(photo(768, 768, 0), images / "0.png")
        (images / "0.txt").write_text("sks, dog, photo")
    return images


def ours(base: Path, images: Path, resolution: int, steps: int, run: Path,
         seed: int = 1, lr: float = 1e-4, rank: int = 32) -> tuple[list[float], list[float]]:
    """Our Trainer with the settings that coincide with the reference: attention-only LoRA on
    the UNet, constant learning rate, text encoder not trained. Returns (seconds, losses)."""
    from lora_for_dummies.train.config import TrainJob
    from lora_for_dummies.train.loop import Trainer

    job = TrainJob.from_dict({
        "model": {"base": str(base)},
        "concepts": [{"folder": str(images), "token": "sks", "repeats": 1}],
        "network": {"rank": rank, "alpha": rank, "train_text_encoder": False,
                    "unet_layers": "attention"},
        "optimizer": {"unet_lr": lr, "scheduler": "constant", "warmup": 0},
        "training": {"steps": steps, "resolution": resolution, "precision": "fp32",
                     "buckets": False, "seed": seed},
        "samples": {"enabled": False},
        "save": {"name": f"bench-{resolution}", "every": 0, "lora_dir": str(run / "Lora")},
        "runs_dir": str(run)})
    Trainer(job, run / "Lora").run()
    records = [json.loads(line) for line in
               (run / f"bench-{resolution}" / "log.jsonl").read_text().splitlines()]
    records = [r for r in records if "loss" in r]
    return [r["seconds"] for r in records], [r["loss"] for r in records]


def reference(base: Path, images: Path, resolution: int, steps: int, seed: int = 1,
              lr: float = 1e-4, rank: int = 32) -> tuple[list[float], list[float]]:
    """The diffusers example's loop: peft LoRA on to_q/k/v/out, the VAE and the text encoder
    run every step, AdamW, gradient clipping at 1.0. Where the example leaves a choice free it
    takes ours, so that the loss curves can be compared: the same image order (one image), the
    VAE's mean latent, noise and timesteps from a per-step generator, the global seed set just
    before the LoRA is injected. Returns (seconds, losses)."""
    import torch
    import torch.nn.functional as F
    from diffusers import DDPMScheduler
    from peft import LoraConfig, inject_adapter_in_model

    from lora_for_dummies.checkpoints.families import bundled_config
    from lora_for_dummies.checkpoints.models import load_models
    from lora_for_dummies.train.data import Item, load_pixels
    from lora_for_dummies.train.text import encode_tokens, token_batch

    loaded = load_models(base)
    unet, vae, text = (loaded.models["unet"], loaded.models["vae"],
                       loaded.models["text_encoder"])
    torch.manual_seed(seed)
    inject_adapter_in_model(LoraConfig(r=rank, lora_alpha=rank,
                                       target_modules=["to_k", "to_q", "to_v", "to_out.0"]),
                            unet)
    params = [p for n, p in unet.named_parameters() if "lora_" in n]
    for p in params:
        p.requires_grad_(True)
    unet.train()
    optimizer = torch.optim.AdamW(params, lr=lr)
    config = bundled_config("sd1", "scheduler")
    config.pop("_class_name")
    scheduler = DDPMScheduler.from_config(config)
    path = sorted(images.glob("*.png"))[0]
    caption = path.with_suffix(".txt").read_text(encoding="utf-8")
    times, losses = [], []
    for step in range(steps):
        start = time.perf_counter()
        pixels, _ = load_pixels(Item(path, caption, 0, False, (resolution, resolution),
                                     (resolution, resolution)))
        with torch.no_grad():
            latents = vae.encode(pixels[None]).latent_dist.mean * vae.config.scaling_factor
            hidden, _ = encode_tokens("sd1", [text], token_batch([caption], 3), 1)
        generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
        noise = torch.randn(latents.shape, generator=generator)
        timesteps = torch.randint(0, 1000, (1,), generator=generator)
        noisy = scheduler.add_noise(latents, noise, timesteps)
        prediction = unet(noisy, timesteps, encoder_hidden_states=hidden).sample
        loss = F.mse_loss(prediction.float(), noise.float())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - start)
        losses.append(float(loss.detach()))
    return times, losses


def child(which: str, resolution: int, steps: int) -> None:
    images = prepare()
    if which == "ours":
        times, losses = ours(BASE, images, resolution, steps, OUT / f"ours-{resolution}")
    else:
        times, losses = reference(BASE, images, resolution, steps)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print("RESULT " + json.dumps({"times": times, "losses": losses, "rss": rss}))


def measure(which: str, resolution: int, steps: int) -> dict:
    output = subprocess.run([sys.executable, __file__, "--child", which, "--resolutions",
                             str(resolution), "--steps", str(steps)], stdout=subprocess.PIPE,
                            text=True, check=True).stdout
    return json.loads(next(line for line in output.splitlines()
                           if line.startswith("RESULT "))[7:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--child", choices=["ours", "reference"])
    args = parser.parse_args()
    if args.child:
        child(args.child, args.resolutions[0], args.steps)
        return
    prepare()
    for resolution in args.resolutions:
        a = measure("ours", resolution, args.steps)
        b = measure("reference", resolution, args.steps)
        ta, tb = statistics.median(a["times"][1:]), statistics.median(b["times"][1:])
        print(f"{resolution}px: ours {ta:.2f} s/step, {a['rss']:.2f} GB | reference "
              f"{tb:.2f} s/step, {b['rss']:.2f} GB | step time {ta / tb:.2f}x, "
              f"memory {a['rss'] / b['rss']:.2f}x")
        difference = max(abs(x - y) / abs(y) for x, y in zip(a["losses"], b["losses"],
                                                            strict=True))
        print(f"  losses ours      {' '.join(f'{x:.6f}' for x in a['losses'])}\n"
              f"  losses reference {' '.join(f'{x:.6f}' for x in b['losses'])}\n"
              f"  largest relative difference {difference:.2e}")


if __name__ == "__main__":
    main()
