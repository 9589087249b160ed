"""A first run with nothing installed: find an existing webui's models, or make a demo workspace.

`serve --demo` writes a tiny model as a real single-file checkpoint and a small generated
dataset, so the whole flow can be clicked through on a CPU in minutes. The demo model has random
weights: its samples are noise, and the UI says so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DEMO_MODEL = "demo-tiny-sd1 (random weights, samples are noise).safetensors"
# Sorted after the base in every list; only for trying the Extract tab on a first run.
DEMO_TUNED = "demo-tiny-sd1-finetuned (for the Extract tab).safetensors"
# A tiny Flux pair for the Extract tab (and Flux training), in a folder of its own under
# models/: its parts go to models/text_encoder and models/VAE as Forge Neo keeps them, which
# the model lists leave out, and T5's tokenizer beside the transformer.
DEMO_FLUX_MODEL = "flux/demo-tiny-flux (random weights, samples are noise).safetensors"
DEMO_FLUX_TUNED = "flux/demo-tiny-flux-finetuned (for the Extract tab).safetensors"
DEMO_FILES = (DEMO_MODEL, DEMO_TUNED, DEMO_FLUX_MODEL, DEMO_FLUX_TUNED)  # models/…, sorted
WEBUI_FOLDERS = ("stable-diffusion-webui", "stable-diffusion-webui-forge", "sd-webui",
                 "webui", "automatic1111")


def photo(width: int, height: int, seed: int = 0) -> Any:
    """A photo-like image: smooth gradients, a few shapes and sensor-like noise."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([
        128 + 100 * np.sin(x / width * np.pi * (1 + seed % 3)),
        128 + 100 * np.cos(y / height * np.pi * 2),
        128 + 80 * np.sin((x + y) / (width + height) * np.pi * 4),
    ], axis=-1)
    image = Image.fromarray(np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype("uint8"))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(max(4, min(width, height) // 10), max(5, min(width, height) // 3)))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        draw.ellipse([x0, y0, x0 + size, y0 + size], fill=colour)
    return image


def find_webui_models(start: Path | None = None) -> tuple[Path, Path] | None:
    """(models/Stable-diffusion, models/Lora) of a webui install in the usual places."""
    candidates = []
    here = Path(start or Path.cwd()).resolve()
    candidates += [here, *here.parents]
    home = Path.home()
    candidates += [home / name for name in WEBUI_FOLDERS]
    if os.name == "nt":
        candidates += [Path(drive + ":\\") / name for drive in "CDE" for name in WEBUI_FOLDERS]
    for root in candidates:
        models = root / "models" / "Stable-diffusion"
        if models.is_dir():
            return models, root / "models" / "Lora"
    return None


def _demo_settings() -> dict[str, dict[str, Any]]:
    """The tab's defaults sized for a CPU as the guided path sizes a CPU run (few steps of
    about a second each at 512 px, quick samples, a save every quarter for the best-step
    grid), in fp32, named demo_dog."""
    from lora_for_dummies.train.guided import CPU_SETTINGS, CPU_STEPS

    settings: dict[str, dict[str, Any]] = {"training": {"steps": CPU_STEPS, "precision": "fp32"},
                                           "save": {"name": "demo_dog"}}
    for path, value in CPU_SETTINGS.items():
        section, key = path.split(".")
        settings.setdefault(section, {})[key] = value
    return settings


DEMO_PRESET = "demo"
DEMO_SETTINGS = _demo_settings()


def prepare_demo(data_dir: Path) -> Path:
    """Write the demo model, dataset and preset under `data_dir` (kept if already there).

    The dataset arrives processed and captioned, with its trigger word set, so a first-time
    user can go straight to the Train tab; the preset holds settings that finish in minutes.
    """
    from lora_for_dummies.checkpoints.synthetic import write_random_checkpoint
    from lora_for_dummies.dataset.layout import create_dataset
    from lora_for_dummies.dataset.process import ProcessSettings, process_concept

    # Absolute: the host lists its models by absolute path, and the remembered settings must
    # name the same file (`lfd serve --demo` starts with the relative `lfd_data`).
    data_dir = Path(data_dir).absolute()

    model = data_dir / "models" / DEMO_MODEL
    if not model.exists():
        write_random_checkpoint(model, "sd1", tiny=True, seed=0)
    tuned = data_dir / "models" / DEMO_TUNED
    if not tuned.exists():  # a pair, so that Extract can be tried too
        from lora_for_dummies.checkpoints.synthetic_change import write_changed_checkpoint

        write_changed_checkpoint(model, tuned, rank=8, seed=1)
    _write_flux_pair(data_dir / "models")
    dataset = create_dataset(data_dir / "datasets", "demo dog")
    originals = dataset.folder(dataset.concept(""), "originals")
    captions = ["sks, dog, grass", "sks, dog, sofa", "sks, dog, beach", "sks, dog, snow",
                "sks, dog, park", "sks, dog, street"]
    for index, caption in enumerate(captions):
        image_path = originals / f"dog{index}.jpg"
        if not image_path.exists():
            photo(640, 480 + 32 * index, seed=index).save(image_path, quality=92)
            image_path.with_suffix(".txt").write_text(caption, encoding="utf-8")
    concept = dataset.concept("")
    if not concept.token:
        concept.token, concept.repeats = "sks", 2
        dataset.save()
    # Idempotent: the processing manifest skips unchanged originals on the next start.
    process_concept(dataset, concept, ProcessSettings.for_family("sd1"))
    _write_preset(data_dir, dataset.folder(concept, "high"), concept.token, concept.repeats)
    return model


def _write_flux_pair(models: Path) -> None:
    from lora_for_dummies.families.flux.demo import write_flux_demo
    from lora_for_dummies.families.flux.synthetic import write_finetune

    base, tuned = models / DEMO_FLUX_MODEL, models / DEMO_FLUX_TUNED
    if not base.exists():
        write_flux_demo(base.parent, name=base.name, models_dir=models)
    if not tuned.exists():
        write_finetune(base, tuned, rank=4, seed=1)


def _write_preset(data_dir: Path, folder: Path, token: str, repeats: int) -> None:
    from lora_for_dummies.config import save_toml
    from lora_for_dummies.train.config import TrainJob

    path = data_dir / "runs" / "presets" / f"{DEMO_PRESET}.toml"
    if path.exists():
        return
    data = TrainJob().to_dict()
    for section, values in DEMO_SETTINGS.items():
        data[section].update(values)
    data["model"]["base"] = str(data_dir / "models" / DEMO_MODEL)
    data["concepts"] = [{"folder": str(folder), "token": token, "repeats": repeats}]
    data["runs_dir"] = str(data_dir / "runs")
    save_toml(TrainJob.from_dict(data), path)


def demo_ready_line(model: Path) -> str:
    """`serve --demo`'s start-up line. The model's file name already says that its samples
    are noise (the Base model list shows it); the line says so once, not twice."""
    why = "" if "samples are noise" in model.name else \
        " (the demo model has random weights: its samples are noise)"
    return f"demo workspace ready: {model.name} and the dataset 'demo dog'{why}"


def demo_base(paths: list[Path]) -> Path | None:
    """The demo's SD base when the list is the demo's models (its fine-tunes are for Extract
    only, the Flux pair for trying Flux), so the Train tab opens on it as it would on a single
    model."""
    names = {Path(p).name: Path(p) for p in paths}
    demo = {Path(name).name for name in DEMO_FILES}
    return names.get(DEMO_MODEL) if DEMO_MODEL in names and set(names) <= demo else None


# A run of the demo that finishes in a minute or two on a CPU (`lfd train --example --demo`).
DEMO_RUN: dict[str, Any] = {"training.steps": 30, "training.resolution": 256,
                            "training.precision": "fp32", "samples.every": 10,
                            "samples.steps": 4, "samples.width": 256, "samples.height": 256,
                            "samples.prompts": ["sks, dog, grass"], "save.every": 10}


def demo_job(data_dir: Path, family: str) -> tuple[dict[str, Any], Any]:
    """("section.key" → value, ConceptConfig) of a CPU-sized job on the demo workspace's model
    of `family` and its dataset (the workspace is made first, as `serve --demo` makes it)."""
    from lora_for_dummies.checkpoints.detect import inspect_checkpoint
    from lora_for_dummies.dataset.layout import open_dataset
    from lora_for_dummies.errors import UserError
    from lora_for_dummies.families import get_family
    from lora_for_dummies.train.config import ConceptConfig

    prepare_demo(data_dir)
    data_dir = Path(data_dir).absolute()
    bases = [data_dir / "models" / name for name in (DEMO_MODEL, DEMO_FLUX_MODEL)]
    base = next((b for b in bases if inspect_checkpoint(b, compute_hash=False).family == family),
                None)
    if base is None:  # a family whose tiny model is written when first asked for
        base = get_family(family).write_demo(data_dir / "models")
    if base is None:
        raise UserError(f"the demo workspace has no {family} model (it has SD 1.x and Flux)")
    dataset = open_dataset(data_dir / "datasets" / "demo dog")
    concept = dataset.concept("")
    values = dict(DEMO_RUN, **{"model.base": str(base), "runs_dir": str(data_dir / "runs"),
                               "save.lora_dir": str(data_dir / "Lora"),
                               "save.name": f"demo-{family}"})
    return values, ConceptConfig(folder=str(dataset.folder(concept, "high")),
                                 token=concept.token, repeats=concept.repeats)
