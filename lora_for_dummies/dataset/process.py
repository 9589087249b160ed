"""IMGS → HIGHRES_CONCEPT and LOWRES_CONCEPT: one decode per image, both sizes, in parallel.

Idempotent: a manifest in the high-resolution folder remembers, per original, its size, mtime,
the settings used and the files made from it. Unchanged originals are skipped; changed ones are
redone (their old outputs replaced); outputs whose original is gone are reported, never deleted.
Pillow releases the GIL while decoding, resizing and encoding, so threads use every core
without starting processes inside the webui.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image, ImageOps

from lora_for_dummies.atomic import atomic_path, write_text_atomic
from lora_for_dummies.dataset.captions import read_caption, write_caption
from lora_for_dummies.dataset.crop import bucket_size, crop_box, focal_point, tile_boxes
from lora_for_dummies.dataset.imageio import ImageError, load_image
from lora_for_dummies.dataset.layout import Concept, Dataset, is_image
from lora_for_dummies.errors import UserError
from lora_for_dummies.families import get_family
from lora_for_dummies.progress import Reporter

MANIFEST = ".lfd_manifest.json"
FORMATS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}


@dataclass
class ProcessSettings:
    high: int = 768
    low: int = 512
    crop: str = "center"  # center | focal | bucket
    tiles: bool = False  # split very tall / wide images into overlapping squares
    tile_ratio: float = 2.5
    flip: bool = False  # also write a mirrored copy
    format: str = "png"  # png | jpeg | webp
    quality: int = 95
    background: str = "#ffffff"  # for transparency

    @classmethod
    def for_family(cls, family: str, **changes: object) -> ProcessSettings:
        high, low = get_family(family).process_resolutions
        return cls(high=high, low=low, **changes)  # type: ignore[arg-type]

    def validate(self) -> None:
        if self.crop not in ("center", "focal", "bucket"):
            raise UserError(f"crop mode must be center, focal or bucket, not {self.crop!r}")
        if self.format not in FORMATS:
            raise UserError(f"format must be png, jpeg or webp, not {self.format!r}")
        from lora_for_dummies.ranges import BUCKET_SIDE, check_fields

        check_fields(self, "process", "settings")
        if self.crop == "bucket":
            for key in ("high", "low"):
                BUCKET_SIDE.check(f"settings.{key} (bucket crop)", getattr(self, key))

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]

    def background_rgb(self) -> tuple[int, int, int]:
        from PIL import ImageColor

        try:
            return ImageColor.getrgb(self.background)[:3]
        except ValueError:
            raise UserError(f"background colour {self.background!r} is not a colour") from None


@dataclass
class ItemResult:
    source: str
    high: list[str] = field(default_factory=list)
    low: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""
    sharp_up_to: int = 0  # when upscaled: the largest resolution this image fills unscaled


@dataclass
class ProcessReport:
    done: list[ItemResult] = field(default_factory=list)
    unchanged: int = 0
    orphans: list[str] = field(default_factory=list)
    stopped: bool = False

    @property
    def failed(self) -> list[ItemResult]:
        return [item for item in self.done if item.error]

    def lines(self) -> list[str]:
        ok = [i for i in self.done if not i.error]
        out = [f"processed {len(ok)}, unchanged {self.unchanged}, failed {len(self.failed)}"
               + (" — stopped" if self.stopped else "")]
        upscaled = [i for i in ok if i.sharp_up_to]
        if upscaled:
            sharp = min(i.sharp_up_to for i in upscaled) // 64 * 64
            out.append(f"enlarged {len(upscaled)} of {len(ok)} images: after cropping they are "
                       "smaller than the high resolution, so they come out a little soft. Fine "
                       "for a first try; for sharper results "
                       + (f"set the high resolution to {sharp} px or less (the largest these "
                          "images fill), or use larger pictures" if sharp >= 256 else
                          "use larger pictures"))
        out += [f"FAILED {i.error}" for i in self.failed]
        out += [f"{i.source}: {note}" for i in ok for note in i.notes]
        out += [f"orphan (its original is gone; not deleted): {name}" for name in self.orphans]
        return out


def _output_stems(sources: list[Path]) -> dict[Path, str]:
    """Stems for outputs; two originals with the same stem get the extension appended."""
    stems: dict[Path, str] = {}
    seen: set[str] = set()
    for source in sorted(sources, key=lambda p: p.name.lower()):
        stem = source.stem
        if stem.lower() in seen:
            stem = f"{source.stem}_{source.suffix.lstrip('.').lower()}"
        seen.add(stem.lower())
        stems[source] = stem
    return stems


def _resize(image: Image.Image, resolution: int, settings: ProcessSettings,
            center: tuple[float, float]) -> tuple[Image.Image, bool]:
    if settings.crop == "bucket":
        target = bucket_size(*image.size, resolution)
    else:
        target = (resolution, resolution)
    box = crop_box(image.size, target[0] / target[1], center)
    upscaled = (box[2] - box[0]) < target[0] or (box[3] - box[1]) < target[1]
    # reducing_gap: integer pre-reduction, then LANCZOS — fast and as sharp as plain LANCZOS.
    return image.resize(target, Image.LANCZOS, box=box, reducing_gap=3.0), upscaled


PNG_LEVEL = 1


def _save(image: Image.Image, path: Path, settings: ProcessSettings) -> None:
    with atomic_path(path) as tmp:
        if settings.format == "png":
            # Encoding is the largest cost of processing (measured: level 4 took 83 ms for a
            # 768 px photo, level 1 41 ms for 20 % more bytes; flat art +10 %). These copies
            # are training inputs, so speed wins; the pixels are the same at any level.
            image.save(tmp, "PNG", compress_level=PNG_LEVEL)
        elif settings.format == "jpeg":
            image.save(tmp, "JPEG", quality=settings.quality, subsampling=0 if
                       settings.quality >= 90 else 2)
        else:
            image.save(tmp, "WEBP", quality=settings.quality, method=4)


def process_one(source: Path, stem: str, settings: ProcessSettings, high_dir: Path,
                low_dir: Path) -> ItemResult:
    """Make the high- and low-resolution outputs (and captions) of one original."""
    result = ItemResult(source.name)
    try:
        loaded = load_image(source, min_side=settings.high, background=settings.background_rgb())
    except ImageError as err:
        result.error = str(err)
        return result
    result.notes += loaded.notes
    image = loaded.image
    boxes = tile_boxes(image.size, settings.tile_ratio) if settings.tiles else []
    regions = [(f"_tile{i}", image.crop(box)) for i, box in enumerate(boxes)] or [("", image)]
    if boxes:
        result.notes.append(f"split into {len(boxes)} overlapping tiles")
    caption = _source_caption(source, result)
    suffix = FORMATS[settings.format]
    upscaled = False
    try:
        for tag, region in regions:
            center = focal_point(region) if settings.crop == "focal" else (0.5, 0.5)
            for resolution, folder, names in ((settings.high, high_dir, result.high),
                                              (settings.low, low_dir, result.low)):
                resized, was_upscaled = _resize(region, resolution, settings, center)
                upscaled |= was_upscaled
                variants = [("", resized)]
                if settings.flip:
                    variants.append(("_flip", ImageOps.mirror(resized)))
                for flip_tag, variant in variants:
                    name = f"{stem}{tag}{flip_tag}{suffix}"
                    _save(variant, folder / name, settings)
                    names.append(name)
                    text_path = (folder / name).with_suffix(".txt")
                    if not text_path.exists():
                        write_caption(text_path, caption)
    except OSError as err:
        from lora_for_dummies.os_errors import os_error_message

        result.error = f"{source.name}: {os_error_message(err)}"
    except UserError as err:  # a write refused by atomic_path (full disk, read-only folder)
        result.error = f"{source.name}: {err}"
    if upscaled:
        result.notes.append(f"upscaled: smaller than {settings.high}px after cropping "
                            f"(original {loaded.original_size[0]}×{loaded.original_size[1]})")
        # in the original's pixels (a JPEG may have been decoded at a reduced size)
        scale = max(loaded.original_size) / max(image.size)
        result.sharp_up_to = min(_sharp_up_to(region.size, settings.crop, scale)
                                 for _, region in regions)
    return result


def _sharp_up_to(size: tuple[int, int], crop: str, scale: float) -> int:
    """The largest resolution a region fills without upscaling: its short side for a square
    crop; for a bucket (area ≈ resolution²) the square root of its area."""
    width, height = size[0] * scale, size[1] * scale
    return int((width * height) ** 0.5 if crop == "bucket" else min(width, height))


def _source_caption(source: Path, result: ItemResult) -> str:
    caption_file = source.with_suffix(".txt")
    if not caption_file.is_file():
        return ""
    caption = read_caption(caption_file)
    if caption.warning:
        result.notes.append(caption.warning)
    return caption.text


def _read_manifest(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def process_concept(dataset: Dataset, concept: Concept | str, settings: ProcessSettings,
                    reporter: Reporter | None = None, workers: int | None = None
                    ) -> ProcessReport:
    """Process one concept's originals to both resolutions. Never modifies the originals."""
    settings.validate()
    concept = dataset.concept(concept) if isinstance(concept, str) else concept
    originals = dataset.folder(concept, "originals")
    high_dir, low_dir = dataset.folder(concept, "high"), dataset.folder(concept, "low")
    from lora_for_dummies.atomic import remove_leftovers

    for folder in (high_dir, low_dir):
        folder.mkdir(parents=True, exist_ok=True)
        remove_leftovers(folder)  # unfinished files of a killed job
    manifest_path = high_dir / MANIFEST
    manifest = _read_manifest(manifest_path)
    sources = sorted((p for p in originals.iterdir() if is_image(p)), key=lambda p: p.name.lower())
    stems = _output_stems(sources)
    report = ProcessReport()
    fingerprint = settings.fingerprint()
    todo = []
    for source in sources:
        stat = source.stat()
        entry = manifest.get(source.name)
        if entry and entry.get("size") == stat.st_size and entry.get("mtime_ns") == \
                stat.st_mtime_ns and entry.get("settings") == fingerprint and all(
                (high_dir / n).exists() for n in entry["high"]) and all(
                (low_dir / n).exists() for n in entry["low"]):
            report.unchanged += 1
        else:
            todo.append(source)
    present = {p.name for p in sources}
    report.orphans = sorted(n for name, e in manifest.items() if name not in present
                            for n in e.get("high", []) + e.get("low", []))
    reporter = reporter or Reporter()
    reporter.start(len(todo), f"Processing {dataset.name}/{concept.title}")
    lock = threading.Lock()

    def run(source: Path) -> ItemResult:
        if reporter.should_stop():
            return ItemResult(source.name, error="")
        return process_one(source, stems[source], settings, high_dir, low_dir)

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
        futures = {pool.submit(run, source): source for source in todo}
        count = 0
        for future in as_completed(futures):
            if future.cancelled():
                continue  # not started before a stop request
            source, result = futures[future], future.result()
            if not (result.high or result.error):
                continue  # started after a stop request: did nothing
            count += 1
            with lock:
                report.done.append(result)
                if not result.error:
                    _replace_outputs(manifest.get(source.name), result, high_dir, low_dir)
                    stat = source.stat()
                    manifest[source.name] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                                             "settings": fingerprint, "high": result.high,
                                             "low": result.low}
            reporter.step(count, result.error or source.name)
            if reporter.should_stop():
                report.stopped = True
                for pending in futures:
                    pending.cancel()
    try:
        write_text_atomic(manifest_path, json.dumps(manifest, indent=1, sort_keys=True))
    except (OSError, UserError) as err:  # the outputs stand; a rerun redoes them all
        report.done.append(ItemResult(MANIFEST, error=f"{MANIFEST}: cannot be written ({err})"))
    reporter.finish(report.lines()[0])
    return report


def _replace_outputs(previous: dict | None, result: ItemResult, high_dir: Path,
                     low_dir: Path) -> None:
    """Remove outputs of an earlier run of this original that this run did not make again."""
    if not previous:
        return
    for folder, old, new in ((high_dir, previous.get("high", []), result.high),
                             (low_dir, previous.get("low", []), result.low)):
        for name in set(old) - set(new):
            (folder / name).unlink(missing_ok=True)
