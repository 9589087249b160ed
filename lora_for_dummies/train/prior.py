"""Prior preservation: class images for a concept, generated with the base model when the
class folder has fewer than asked (saved there and reused by the next run)."""

from __future__ import annotations

from pathlib import Path

from lora_for_dummies.dataset.layout import is_image
from lora_for_dummies.errors import UserError
from lora_for_dummies.progress import Reporter
from lora_for_dummies.train.config import ConceptConfig, TrainJob
from lora_for_dummies.train.sampling import SampleContext, render


def class_images_missing(job: TrainJob) -> bool:
    """Whether a concept asks for more class images than its folder holds."""
    return any(have < want for have, want in map(_have_and_want, job.concepts))


def _have_and_want(concept: ConceptConfig) -> tuple[int, int]:
    """(class images in the folder, class images asked for); (0, 0) without prior."""
    if not concept.class_folder or not concept.class_images:
        return 0, 0
    folder = Path(concept.class_folder)
    have = sum(1 for p in folder.iterdir() if is_image(p)) if folder.is_dir() else 0
    return have, concept.class_images


def generate_class_images(job: TrainJob, context: SampleContext, reporter: Reporter) -> int:
    """Render the missing class images; returns how many were made."""
    made = 0
    for concept in job.concepts:
        have, want = _have_and_want(concept)
        if have >= want:
            continue
        folder = Path(concept.class_folder)
        folder.mkdir(parents=True, exist_ok=True)
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
