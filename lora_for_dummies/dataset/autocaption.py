"""Auto-captioning: one loop for every captioner (WD14 booru tags, Florence-2 and BLIP prose,
the webui's BLIP / deepbooru).

The local captioners (`LOCAL`) run on every host from a model folder the user names: WD14 v3
taggers through onnxruntime (`wd14.py`), Florence-2 prose where the host's transformers has it
(`florence2.py`) and a transformers BLIP. Inside A1111 the webui's own
interrogators are offered too (`hosts/webui.py`; Forge Neo removed them). Nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lora_for_dummies.dataset.captions import Change, add_tags, apply_plan, read_caption, split_tags
from lora_for_dummies.dataset.florence2 import Florence2Captioner, florence2_missing
from lora_for_dummies.dataset.imageio import ImageError, load_image
from lora_for_dummies.dataset.layout import Concept, Dataset, is_image, no_images_advice
from lora_for_dummies.dataset.wd14 import TagSettings, Wd14Tagger, onnxruntime_missing
from lora_for_dummies.errors import UserError
from lora_for_dummies.progress import Reporter

MODES = ("overwrite", "append", "skip")


class Captioner(Protocol):
    name: str

    def caption(self, image: Any) -> str: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class CaptionOptions:
    """What a caption run was asked for, beyond the images: the model and the tag rules."""

    model: str = ""  # a local folder (or file) holding the captioner's model
    tags: TagSettings = field(default_factory=TagSettings)


CaptionerFactory = Callable[[CaptionOptions], Captioner]


class BlipFolderCaptioner:
    """A transformers BLIP captioning model saved in a local folder (config + weights +
    processor files), e.g. a copy of Salesforce/blip-image-captioning-base."""

    name = "BLIP"

    def __init__(self, folder: str | Path, device: str = "cpu", max_tokens: int = 40) -> None:
        folder = Path(folder) if folder else Path()
        if not str(folder) or not (folder / "config.json").is_file():
            raise UserError("no BLIP model: name a folder holding a transformers BLIP "
                            "captioning model (config.json, weights, processor files), or type "
                            "Salesforce/blip-image-captioning-base to download it")
        from transformers import BlipForConditionalGeneration, BlipProcessor

        try:
            self.processor = BlipProcessor.from_pretrained(str(folder), local_files_only=True)
            self.model = BlipForConditionalGeneration.from_pretrained(
                str(folder), local_files_only=True).to(device).eval()
        except (OSError, ValueError) as err:
            raise UserError(f"{folder.name}: not a BLIP captioning model ({str(err)[:120]})"
                            ) from None
        self.device, self.max_tokens = device, max_tokens

    def caption(self, image: Any) -> str:
        import torch

        inputs = self.processor(images=image, return_tensors="pt").to(self.device)
        with torch.no_grad():
            out = self.model.generate(**inputs, max_new_tokens=self.max_tokens, min_new_tokens=3,
                                      num_beams=1)
        return self.processor.decode(out[0], skip_special_tokens=True).strip()

    def close(self) -> None:
        self.model = None


# The captioners every host offers: the CLI's key → (the title the UI shows, the factory).
LOCAL: dict[str, tuple[str, CaptionerFactory]] = {
    "wd14": (Wd14Tagger.name, lambda options: Wd14Tagger(options.model, options.tags)),
    "florence2": (Florence2Captioner.name, lambda options: Florence2Captioner(options.model)),
    "blip": (BlipFolderCaptioner.name, lambda options: BlipFolderCaptioner(options.model)),
}
# Why a local captioner cannot run on this host ("" when it can): what the host lacks.
_MISSING: dict[str, Callable[[], str]] = {"wd14": onnxruntime_missing,
                                          "florence2": florence2_missing}


def local_key(title: str) -> str | None:
    """The `LOCAL` key of a captioner's title (None: one of the webui's own)."""
    return next((k for k, (t, _) in LOCAL.items() if t == title), None)


def why_unavailable(title: str) -> str:
    """The reason the captioner of this title cannot run here ("" when it can, or when it is
    not one of `LOCAL`)."""
    key = local_key(title)
    return _MISSING[key]() if key in _MISSING else ""


def local_captioners() -> dict[str, CaptionerFactory]:
    """Title → factory of `LOCAL`, as `Host.captioners` returns them."""
    return dict(LOCAL.values())


@dataclass
class CaptionReport:
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    previews: list[tuple[str, str]] = field(default_factory=list)  # (image, caption), unwritten
    preview: bool = False  # a preview was asked for: nothing is written
    notes: list[str] = field(default_factory=list)  # what the captioner says of the run
    stopped: bool = False


def merge_caption(existing: str, new: str, mode: str) -> str | None:
    """The caption to write, or None to leave the file as it is."""
    if mode == "skip" and existing.strip():
        return None
    if mode == "append" and existing.strip():
        return add_tags(existing, split_tags(new), front=False)
    return new


def _decode(path: Path) -> Any:
    try:
        return load_image(path).image
    except ImageError as err:
        return err


def _batches(paths: list[Path], size: int) -> Iterator[list[tuple[Path, Any]]]:
    """The images in batches, the next batch decoding in threads while this one is captioned
    (at most two batches in memory: a dataset of 1000 large photos is never read at once)."""
    chunks = [paths[i:i + size] for i in range(0, len(paths), size)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        ahead = [pool.submit(_decode, p) for p in chunks[0]] if chunks else []
        for number, chunk in enumerate(chunks):
            current = ahead
            if number + 1 < len(chunks):
                ahead = [pool.submit(_decode, p) for p in chunks[number + 1]]
            yield [(p, f.result()) for p, f in zip(chunk, current, strict=True)]


def run_autocaption(images: list[Path], captioner: Captioner, mode: str = "skip",
                    reporter: Reporter | None = None, mirrors: list[Path] | None = None,
                    trigger: str = "", preview: int = 0) -> CaptionReport:
    """Caption `images` (their `.txt` beside them, and in the `mirrors` folders), the
    `trigger` word first. Captions are written batch by batch, so a stop keeps what is done,
    and the whole run is one step of the folder's Undo. `preview` > 0: caption only that many
    of the images that would change and write nothing (`report.previews`)."""
    if mode not in MODES:
        raise UserError(f"mode must be one of {', '.join(MODES)}")
    reporter = reporter or Reporter()
    report = CaptionReport(preview=preview > 0)
    todo = []
    for path in images:
        text_path = path.with_suffix(".txt")
        existing = read_caption(text_path).text if text_path.exists() else ""
        if mode == "skip" and existing.strip():
            report.skipped.append(path.name)
        else:
            todo.append((path, existing))
    if preview:
        todo = todo[:preview]
    existing_of = dict(todo)
    reporter.start(len(todo), f"Captioning {len(todo)} images with {captioner.name}"
                   + (f" ({len(report.skipped)} already captioned, kept)" if report.skipped
                      else ""))
    done, started = 0, False
    try:
        for batch in _batches([p for p, _ in todo], getattr(captioner, "batch_size", 1)):
            if reporter.should_stop():
                report.stopped = True
                break
            readable = [(p, image) for p, image in batch if not isinstance(image, ImageError)]
            report.failed += [str(image) for _, image in batch if isinstance(image, ImageError)]
            texts = _caption(captioner, [image for _, image in readable])
            changes = []
            for (path, _), new in zip(readable, texts, strict=True):
                new = new.strip()
                if not new:
                    report.failed.append(f"{path.name}: the captioner returned nothing")
                    continue
                merged = merge_caption(existing_of[path], new, mode) or ""
                if trigger.strip():
                    merged = add_tags(merged, [trigger.strip()], front=True)
                if preview:
                    report.previews.append((path.name, merged))
                    continue
                changes.append(Change(path.with_suffix(".txt"), existing_of[path], merged))
                report.written.append(path.name)
            if changes:
                apply_plan(changes, mirrors or [], more=started)
                started = True
            done += len(batch)
            last = changes[-1].new if changes else ""
            reporter.step(done, f"{batch[-1][0].name}: {last}" if last else batch[-1][0].name)
    finally:
        notes = getattr(captioner, "notes", None)
        report.notes = notes() if notes is not None else []
        captioner.close()
        reporter.finish(f"previewed {len(report.previews)}" if preview else
                        f"captioned {len(report.written)}, kept {len(report.skipped)}")
    return report


def _caption(captioner: Captioner, images: list[Any]) -> list[str]:
    if not images:
        return []
    batch = getattr(captioner, "caption_batch", None)
    return batch(images) if batch is not None else [captioner.caption(i) for i in images]


def caption_concept(dataset: Dataset, concept: Concept, captioner: Captioner, mode: str,
                    reporter: Reporter | None = None, preview: int = 0) -> CaptionReport:
    """Caption one concept's processed images (HIGHRES, the same text into LOWRES), its
    trigger word first: what the Dataset tab and `lfd dataset caption` run."""
    high, low = dataset.folder(concept, "high"), dataset.folder(concept, "low")
    images = sorted((p for p in high.iterdir() if is_image(p)),
                    key=lambda p: p.name.lower()) if high.is_dir() else []
    if not images:
        captioner.close()
        raise UserError(no_images_advice(dataset, concept))
    return run_autocaption(images, captioner, mode, reporter, [low], trigger=concept.token,
                           preview=preview)


def summary(report: CaptionReport) -> str:
    """The run's result in a few lines (the tab's message box, the CLI's output)."""
    kept = len(report.skipped)
    if not report.previews and not report.written and kept and not report.failed:
        have = f"All {kept} images already have captions" if kept > 1 else \
            "The image already has a caption"
        lines = [f"{have}, so nothing was {'previewed' if report.preview else 'written'} "
                 "(Existing captions: skip). Choose append or overwrite to caption "
                 f"{'them' if kept > 1 else 'it'} anyway."]
    elif report.preview:
        lines = [f"Preview of {len(report.previews)} captions (nothing written yet):"]
        lines += [f"{name}: {text}" for name, text in report.previews]
    else:
        lines = [f"Captioned {_images(len(report.written))}, kept {kept}"
                 + (" (stopped; what was captioned is saved)" if report.stopped else "")
                 + (". Undo last bulk change takes the run back (one step: until the next "
                    "change)" if report.written else "")]
    return "\n".join(lines + report.notes + report.failed)


def _images(count: int) -> str:
    return f"{count} image{'' if count == 1 else 's'}"
