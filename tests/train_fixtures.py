"""A small instance folder and a training job on a tiny model, for the training tests."""

from __future__ import annotations

from pathlib import Path

from imagegen import photo, save

from lora_for_dummies.train.config import TrainJob


def instance_folder(folder: Path, count: int = 3) -> Path:
    for i in range(count):
        save(photo(96 if i % 2 else 64, 64, i), folder / f"{i}.png")
    (folder / "0.txt").write_text("sks, dog, grass", encoding="utf-8")
    (folder / "1.txt").write_text("sks, dog, sofa", encoding="utf-8")
    return folder


def tiny_job(base: Path, root: Path, steps: int = 4, **sections) -> TrainJob:
    data = {
        "model": {"base": str(base)},
        "concepts": [{"folder": str(instance_folder(root / "inst")), "token": "sks",
                      "repeats": 2}],
        "training": {"steps": steps, "resolution": 64, "precision": "fp32", "seed": 7},
        "samples": {"every": 2, "steps": 2, "width": 64, "height": 64, "prompts": ["sks dog"]},
        "save": {"name": "tiny", "every": 2, "keep_last": 0, "lora_dir": str(root / "Lora")},
        "runs_dir": str(root / "runs"),
    }
    for section, values in sections.items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    return TrainJob.from_dict(data)
