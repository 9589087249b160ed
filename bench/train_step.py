"""Training step time and peak memory: our loop vs a reference loop written the way diffusers'
`train_dreambooth_lora.py` does it (peft LoRA on attention, VAE and text encoder run every
step, no caching). Full-size SD1.5 architecture (random weights), batch 1, rank 32.

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
    import torch
    from imagegen import photo, save

    from lora_for_dummies.checkpoints.synthetic import write_random_checkpoint

    if not BASE.exists():
        write_random_checkpoint(BASE, "sd1", tiny=False, dtype=torch.float16)
    images = OUT / "images"
    for i in range(4):
        if not (images / f"{i}.png").exists():
            save(photo(768, 768, i), images / f"{i}.png")
            (images / f"{i}.txt").write_text("sks, dog, photo")
    return images


def ours(resolution: int, steps: int) -> list[float]:
    from lora_for_dummies.train.config import TrainJob
    from lora_for_dummies.train.loop import Trainer

    run = OUT / f"ours-{resolution}"
    job = TrainJob.from_dict({
        "model": {"base": str(BASE)},
        "concepts": [{"folder": str(OUT / "images"), "token": "sks", "repeats": 1}],
        "network": {"rank": 32, "alpha": 32, "train_text_encoder": False},
        "training": {"steps": steps, "resolution": resolution, "precision": "fp32",
                     "buckets": False, "seed": 1},
        "samples": {"enabled": False},
        "save": {"name": f"bench-{resolution}", "every": 0, "lora_dir": str(run / "Lora")},
        "runs_dir": str(run)})
    Trainer(job, run / "Lora").run()
    log = run / f"bench-{resolution}" / "log.jsonl"
    return [json.loads(line)["seconds"] for line in log.read_text().splitlines()
            if '"loss"' in line]


def reference(resolution: int, steps: int) -> list[float]:
    """The diffusers example's loop: encode with the VAE and the text encoder every step."""
    import torch
    import torch.nn.functional as F
    from diffusers import DDPMScheduler
    from peft import LoraConfig, inject_adapter_in_model

    from lora_for_dummies.checkpoints.families import bundled_config
    from lora_for_dummies.checkpoints.models import load_models
    from lora_for_dummies.train.data import Item, load_pixels
    from lora_for_dummies.train.text import encode_tokens, token_batch

    loaded = load_models(BASE)
    unet, vae, text = (loaded.models["unet"], loaded.models["vae"],
                       loaded.models["text_encoder"])
    inject_adapter_in_model(LoraConfig(r=32, lora_alpha=32, init_lora_weights="gaussian",
                                       target_modules=["to_k", "to_q", "to_v", "to_out.0"]),
                            unet)
    params = [p for n, p in unet.named_parameters() if "lora_" in n]
    for p in params:
        p.requires_grad_(True)
    unet.train()
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    config = bundled_config("sd1", "scheduler")
    config.pop("_class_name")
    scheduler = DDPMScheduler.from_config(config)
    images = sorted((OUT / "images").glob("*.png"))
    times = []
    for step in range(steps):
        start = time.perf_counter()
        path = images[step % len(images)]
        pixels, _ = load_pixels(Item(path, "", 0, False, (resolution, resolution), (768, 768)))
        with torch.no_grad():
            latents = vae.encode(pixels[None]).latent_dist.sample() * vae.config.scaling_factor
            hidden, _ = encode_tokens("sd1", [text], token_batch(["sks, dog, photo"], 1), 1)
        noise = torch.randn_like(latents)
        timesteps = torch.randint(0, 1000, (1,))
        noisy = scheduler.add_noise(latents, noise, timesteps)
        prediction = unet(noisy, timesteps, encoder_hidden_states=hidden).sample
        loss = F.mse_loss(prediction.float(), noise.float())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - start)
    return times


def child(which: str, resolution: int, steps: int) -> None:
    import torch

    torch.manual_seed(0)
    times = (ours if which == "ours" else reference)(resolution, steps)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print("RESULT " + json.dumps({"times": times, "rss": rss}))


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


if __name__ == "__main__":
    main()
