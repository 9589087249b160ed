"""Pre-flight check: everything that makes a LoRA worse, found before a GPU hour is spent.

Per concept: image counts, undecodable files, exact and near duplicates (perceptual hash),
images smaller than the target resolution, extreme aspect ratios, missing / empty / orphan /
over-long captions, a trigger word missing from captions, steps per epoch, and a rough estimate
of training time and VRAM (labelled as such until training measures it).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image

from lora_for_dummies.dataset.captions import read_caption
from lora_for_dummies.dataset.imageio import ImageError, load_image
from lora_for_dummies.dataset.layout import Dataset, is_image, no_images_advice
from lora_for_dummies.families import DEFAULT, get_family
from lora_for_dummies.tokenizer import CHUNK_TOKENS, count_tokens

NEAR_DUPLICATE_BITS = 6  # of 64: difference-hash distance at or below this is "near"
# A difference hash compares neighbouring pixels: an image without detail (a flat colour, a page
# that is almost all paper) hashes to nearly all zeros, like any other such image. Below this
# standard deviation of its grey levels (0-255) an image "lacks detail", and is only ever the
# near duplicate of another flat image of about the same colour.
MIN_DETAIL = 6.0
NEAR_COLOUR = 24.0  # mean RGB distance at or below which two images have "the same colours"
FLAT_COLOUR = 8.0
EXTREME_ASPECT = 2.5


# What each finding's code (kept in the report, the CLI's JSON and the API) means, as the
# Dataset tab's table says it.
PROBLEM_WORDS = {
    "undecodable": "cannot be opened", "duplicate": "the same file twice",
    "near_duplicate": "almost the same picture twice", "too_small": "smaller than the resolution",
    "aspect": "very tall or wide", "caption_missing": "no caption",
    "caption_empty": "empty caption", "caption_encoding": "caption not in UTF-8",
    "caption_orphan": "caption without a picture", "caption_long": "caption too long",
    "trigger_missing": "trigger word not in the caption", "trigger_unset": "no trigger word",
    "not_processed": "nothing to train on yet",
}


@dataclass
class Finding:
    kind: str  # undecodable | duplicate | near_duplicate | too_small | aspect | caption_missing
    #           | caption_empty | caption_orphan | caption_long | trigger_missing | trigger_unset
    file: str
    detail: str


@dataclass
class ConceptReport:
    concept: str
    originals: int = 0
    processed: int = 0
    repeats: int = 1
    steps_per_epoch: int = 0
    findings: list[Finding] = field(default_factory=list)


@dataclass
class PreflightReport:
    dataset: str
    concepts: list[ConceptReport] = field(default_factory=list)
    estimate: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def rows(self) -> list[list[str]]:
        """[concept, problem, file, detail] rows for the UI table, in plain words."""
        return [[c.concept, PROBLEM_WORDS.get(f.kind, f.kind), f.file, f.detail]
                for c in self.concepts for f in c.findings]


def difference_hash(image: Image.Image) -> int:
    """64-bit dHash: robust to resizing, re-encoding and small edits."""
    small = image.convert("L").resize((9, 8), Image.BILINEAR)
    pixels = list(small.getdata())
    bits = 0
    for row in range(8):
        for col in range(8):
            bits = (bits << 1) | (pixels[row * 9 + col] > pixels[row * 9 + col + 1])
    return bits


@dataclass(frozen=True)
class Look:
    """What the near-duplicate test compares: structure (dHash), colour and detail."""

    dhash: int
    colour: tuple[float, float, float]
    detail: float

    @classmethod
    def of(cls, image: Image.Image) -> Look:
        from PIL import ImageStat

        rgb = image.convert("RGB")
        colour = tuple(ImageStat.Stat(rgb.resize((16, 16), Image.BILINEAR)).mean)
        detail = ImageStat.Stat(rgb.convert("L").resize((32, 32), Image.BILINEAR)).stddev[0]
        return cls(difference_hash(rgb), colour, detail)  # type: ignore[arg-type]

    def near(self, other: Look) -> bool:
        colour = math.dist(self.colour, other.colour)
        flat = (self.detail < MIN_DETAIL, other.detail < MIN_DETAIL)
        if all(flat):
            return colour <= FLAT_COLOUR
        if any(flat):
            return False
        return colour <= NEAR_COLOUR and \
            bin(self.dhash ^ other.dhash).count("1") <= NEAR_DUPLICATE_BITS


def _check_images(folder: Path, resolution: int, report: ConceptReport) -> list[Path]:
    images = sorted((p for p in folder.iterdir() if is_image(p)), key=lambda p: p.name.lower())
    exact: dict[str, str] = {}
    looks: list[tuple[Look, str]] = []
    for path in images:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in exact:
            report.findings.append(Finding("duplicate", path.name,
                                           f"same bytes as {exact[digest]}"))
            continue
        exact[digest] = path.name
        try:
            loaded = load_image(path, min_side=64)
        except ImageError as err:
            report.findings.append(Finding("undecodable", path.name, str(err)))
            continue
        width, height = loaded.original_size
        if min(width, height) < resolution:
            side = "side" if width == height else "short side"
            report.findings.append(Finding("too_small", path.name,
                                           f"{side} {min(width, height)} px < {resolution} px "
                                           f"({width}×{height}): it will be upscaled (blurry)"))
        ratio = max(width, height) / max(min(width, height), 1)
        if ratio > EXTREME_ASPECT:
            report.findings.append(Finding("aspect", path.name, f"aspect ratio {ratio:.1f}:1; "
                                           "use buckets or tiles, or crop it by hand"))
        look = Look.of(loaded.image)
        for other_look, other in looks:
            if look.near(other_look):
                report.findings.append(Finding("near_duplicate", path.name,
                                               f"looks almost the same as {other}"))
                break
        looks.append((look, path.name))
    return images


def _check_captions(folder: Path, images: list[Path], token: str,
                    report: ConceptReport) -> None:
    stems = {p.stem for p in images}
    for path in images:
        caption = path.with_suffix(".txt")
        if not caption.exists():
            report.findings.append(Finding("caption_missing", path.name,
                                           "no caption: the instance prompt will be used"))
            continue
        text = read_caption(caption)
        if text.warning:
            report.findings.append(Finding("caption_encoding", caption.name, text.warning))
        if not text.text.strip():
            report.findings.append(Finding("caption_empty", caption.name, "empty caption"))
            continue
        tokens = count_tokens(text.text)
        if tokens > CHUNK_TOKENS:
            report.findings.append(Finding("caption_long", caption.name,
                                           f"{tokens} tokens > {CHUNK_TOKENS}: needs long-"
                                           "caption training or will be cut"))
        if token and token.lower() not in text.text.lower():
            report.findings.append(Finding("trigger_missing", caption.name,
                                           f"the trigger word {token!r} is not in the caption"))
    for caption in sorted(folder.glob("*.txt")):
        if caption.stem not in stems:
            report.findings.append(Finding("caption_orphan", caption.name,
                                           "caption without an image"))


def run_preflight(dataset: Dataset, resolution: int, batch_size: int = 1, epochs: int = 10,
                  family: str = DEFAULT, vram_gb: float | None = None, gpu: str = "",
                  unet_params: float | None = None) -> PreflightReport:
    """Check every concept: originals for image problems, processed captions for text ones."""
    report = PreflightReport(dataset.name)
    total_steps = 0
    for concept in dataset.concepts.values():
        entry = ConceptReport(concept.title, repeats=concept.repeats)
        originals = dataset.folder(concept, "originals")
        entry.originals = len(_check_images(originals, resolution, entry)) \
            if originals.is_dir() else 0
        high = dataset.folder(concept, "high")
        processed = sorted(p for p in high.iterdir() if is_image(p)) if high.is_dir() else []
        entry.processed = len(processed)
        if not concept.token.strip():
            entry.findings.append(Finding(
                "trigger_unset", concept.title, "no trigger word set for this concept: set one "
                "in Concept settings, or the LoRA has no word to call it up"))
        if processed:
            _check_captions(high, processed, concept.token, entry)
        else:
            entry.findings.append(Finding("not_processed", concept.high_dir,
                                          no_images_advice(dataset, concept)))
        entry.steps_per_epoch = math.ceil(entry.processed * concept.repeats / max(batch_size, 1))
        total_steps += entry.steps_per_epoch * epochs
        report.concepts.append(entry)
    # The time: the run the Train tab's guided path makes for these images on this device,
    # by the same rule (train/estimate.py), so the two tabs say the same.
    from lora_for_dummies.train.estimate import estimate_run

    if vram_gb is None:
        from lora_for_dummies.train.wizard import detect_vram_gb, gpu_name

        vram_gb = detect_vram_gb()
        gpu = gpu_name() if vram_gb > 0 else ""
    images = sum(c.processed or c.originals for c in report.concepts)
    run = estimate_run(images, family, vram_gb, gpu, unet_params)
    spec = get_family(family)  # its rough VRAM at batch 1, native size: an estimate
    scale = (resolution / spec.native_resolution) ** 2
    report.estimate = {
        "line": run.line(), "steps": run.steps, "minutes": round(run.seconds / 60, 1),
        "device": run.device, "measured": run.measured, "epoch_steps": total_steps // max(
            epochs, 1), "vram_gb": round(spec.rough_vram_gb *
                                         (0.7 + 0.3 * scale * batch_size), 1),
    }
    return report
