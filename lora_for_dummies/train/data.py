"""Training images: concepts with repeats, captions (shuffle, dropout), buckets, batches.

Every random choice for a step (order, caption shuffle, dropout) is derived from the seed and
the step number, so a run resumed at step k makes exactly the choices it would have made.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lora_for_dummies import messages as msg
from lora_for_dummies.dataset.captions import join_tags, read_caption, split_tags
from lora_for_dummies.dataset.crop import bucket_size
from lora_for_dummies.dataset.layout import is_image
from lora_for_dummies.errors import UserError
from lora_for_dummies.train.config import ConceptConfig, TrainingConfig


@dataclass(frozen=True)
class Item:
    path: Path
    caption: str
    concept: int  # index in the job's concepts
    is_class: bool
    bucket: tuple[int, int]  # (width, height)
    original_size: tuple[int, int]


@dataclass
class TrainingSet:
    items: list[Item]
    class_items: list[Item]
    notes: list[str] = field(default_factory=list)
    tag_frequency: dict[str, dict[str, int]] = field(default_factory=dict)

    def epoch_order(self, epoch: int, seed: int) -> list[Item]:
        order = list(self.items)
        random.Random(seed * 100_003 + epoch).shuffle(order)
        return order

    def batches(self, batch_size: int, seed: int, start_step: int = 0) -> Iterator[list[Item]]:
        """Endless batches of one bucket each, resumable at any step."""
        per_epoch = self._epoch_batches(0, batch_size, seed)
        if not per_epoch:
            raise UserError("no training images")
        epoch, step = 0, 0
        while True:
            batches = self._epoch_batches(epoch, batch_size, seed)
            for batch in batches:
                if step >= start_step:
                    yield batch
                step += 1
            epoch += 1

    def _epoch_batches(self, epoch: int, batch_size: int, seed: int) -> list[list[Item]]:
        by_bucket: dict[tuple[int, int], list[Item]] = {}
        for item in self.epoch_order(epoch, seed):
            by_bucket.setdefault(item.bucket, []).append(item)
        batches = [items[i:i + batch_size] for items in by_bucket.values()
                   for i in range(0, len(items), batch_size)]
        random.Random(seed * 7_919 + epoch).shuffle(batches)
        return batches

    def steps_per_epoch(self, batch_size: int) -> int:
        return len(self._epoch_batches(0, batch_size, 0))


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as image:
            return ImageOps.exif_transpose(image).size if image.getexif().get(0x0112, 1) != 1 \
                else image.size
    except OSError as err:  # not an image after all, or cut short
        raise msg.BAD_IMAGE.error(file=path.name, folder=path.parent.name, reason=err) from None


def _items(folder: Path, concept_index: int, default_caption: str, is_class: bool,
           training: TrainingConfig, notes: list[str]) -> list[Item]:
    if not folder.is_dir():
        raise msg.CONCEPT_MISSING.error(folder=folder)
    images = sorted((p for p in folder.iterdir() if is_image(p)), key=lambda p: p.name.lower())
    items = []
    missing = 0
    for path in images:
        caption_file = path.with_suffix(".txt")
        caption = read_caption(caption_file).text.strip() if caption_file.exists() else ""
        if not caption:
            missing += 1
            caption = default_caption
        size = _image_size(path)
        bucket = bucket_size(*size, training.resolution) if training.buckets else (
            training.resolution, training.resolution)
        items.append(Item(path, caption, concept_index, is_class, bucket, size))
    if missing and not is_class:
        notes.append(f"{folder.name}: {missing} images without a caption use "
                     f"{default_caption!r}")
    return items


def build_training_set(concepts: list[ConceptConfig], training: TrainingConfig) -> TrainingSet:
    notes: list[str] = []
    items, class_items = [], []
    frequency: dict[str, dict[str, int]] = {}
    for index, concept in enumerate(concepts):
        prompt = concept.prompt or concept.token
        concept_items = _items(Path(concept.folder), index, prompt, False, training, notes)
        if not concept_items:
            raise msg.CONCEPT_EMPTY.error(folder=concept.folder)
        counts: dict[str, int] = {}
        for item in concept_items:
            for tag in dict.fromkeys(split_tags(item.caption)):
                counts[tag] = counts.get(tag, 0) + 1
        frequency[f"{concept.repeats}_{concept.token or Path(concept.folder).name}"] = counts
        items += concept_items * concept.repeats
        if concept.class_folder and Path(concept.class_folder).is_dir():
            class_items += _items(Path(concept.class_folder), index, concept.class_prompt,
                                  True, training, notes)
    return TrainingSet(items, class_items, notes, frequency)


def caption_for_step(caption: str, training: TrainingConfig, rng: random.Random) -> str:
    """Caption dropout and tag shuffling (the first `keep_tags` stay in place)."""
    if training.caption_dropout and rng.random() < training.caption_dropout:
        return ""
    if not training.shuffle_tags:
        return caption
    tags = split_tags(caption)
    head, tail = tags[:training.keep_tags], tags[training.keep_tags:]
    rng.shuffle(tail)
    return join_tags(head + tail)


def load_pixels(item: Item) -> tuple[object, tuple[int, int]]:
    """The image scaled to cover its bucket and centre-cropped, as a (3, H, W) tensor in [-1, 1],
    with the crop's top-left corner (for SDXL's crop conditioning)."""
    import numpy as np
    import torch
    from PIL import Image

    from lora_for_dummies.dataset.crop import crop_box
    from lora_for_dummies.dataset.imageio import load_image

    image = load_image(item.path).image
    width, height = item.bucket
    box = crop_box(image.size, width / height)
    resized = image.resize((width, height), Image.LANCZOS, box=box, reducing_gap=3.0)
    array = np.asarray(resized, dtype=np.float32) / 127.5 - 1.0
    scale = width / (box[2] - box[0])
    top_left = (round(box[1] * scale), round(box[0] * scale))
    return torch.from_numpy(array).permute(2, 0, 1).contiguous(), top_left
