"""Prior preservation: class images for a concept, generated with the base model when the
class folder has fewer than asked (saved there and reused by the next run)."""

from __future__ import annotations

from pathlib import Path

from lora_for_dummies.dataset.layout import is_image
from lora_for_dummies.errors import UserError
from lora_for_dummies.progress import Reporter
from lora_for_dummies.train.config import TrainJob
from lora_for_dummies.train.sampling import SampleContext, render


def class_images_missing(job: TrainJob) -> bool:
    """Whether a concept asks for more class images than its folder holds."""
    return any(concept.class_folder and concept.class_images
               and _count_images(Path(concept.class_folder)) < concept.class_images
               for concept in job.concepts)


def _count_images(folder: Path) -> int:
    return sum(1 for p in folder.iterdir() if is_image(p)) if folder.is_dir() else 0


def generate_class_images(job: TrainJob, context: SampleContext, reporter: Reporter) -> int:
    """Render the missing class images; returns how many were made."""
    made = 0
    for concept in job.concepts:
        if not concept.class_folder or not concept.class_images:
            continue
        folder = Path(concept.class_folder)
        folder.mkdir(parents=True, exist_ok=True)
        have = _count_images(folder)
        if have >= concept.class_images:
            continue
        if not concept.class_prompt:
            raise UserError(f"{folder.name}: give a class prompt to generate class images")
        reporter.log(f"generating {concept.class_images - have} class images for "
                     f"{concept.class_prompt!r}")
        for index in range(have, concept.class_images):
            image = render(context, concept.class_prompt, job.samples, 10_000 + index)
            image.save(folder / f"class_{index:04d}.png")
            (folder / f"class_{index:04d}.txt").write_text(concept.class_prompt,
                                                            encoding="utf-8")
            made += 1
    return made
