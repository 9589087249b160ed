"""Auto-captioning: one loop for every captioner (the webui's BLIP / deepbooru, or a local BLIP).

Inside the webui the captioners come from `hosts/webui.py` (its own interrogators, loaded once
for the whole job, without touching the webui's job state). Standalone, a transformers BLIP model
from a folder the user names is used; nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lora_for_dummies.dataset.captions import add_tags, read_caption, split_tags, write_caption
from lora_for_dummies.dataset.imageio import ImageError, load_image
from lora_for_dummies.errors import UserError
from lora_for_dummies.names import same_stem
from lora_for_dummies.progress import Reporter

MODES = ("overwrite", "append", "skip")


class Captioner(Protocol):
    name: str

    def caption(self, image: Any) -> str: ...

    def close(self) -> None: ...


class BlipFolderCaptioner:
    """A transformers BLIP captioning model saved in a local folder (config + weights +
    processor files), e.g. a copy of Salesforce/blip-image-captioning-base."""

    name = "BLIP (local folder)"

    def __init__(self, folder: str | Path, device: str = "cpu", max_tokens: int = 40) -> None:
        folder = Path(folder) if folder else Path()
        if not str(folder) or not (folder / "config.json").is_file():
            raise UserError("no BLIP model: name a local folder that holds a transformers BLIP "
                            "captioning model (config.json, weights, processor files)")
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


@dataclass
class CaptionReport:
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    stopped: bool = False


def merge_caption(existing: str, new: str, mode: str) -> str | None:
    """The caption to write, or None to leave the file as it is."""
    if mode == "skip" and existing.strip():
        return None
    if mode == "append" and existing.strip():
        return add_tags(existing, split_tags(new), front=False)
    return new


def run_autocaption(images: list[Path], captioner: Captioner, mode: str = "skip",
                    reporter: Reporter | None = None, mirrors: list[Path] | None = None
                    ) -> CaptionReport:
    """Caption `images` (their `.txt` beside them, and in the `mirrors` folders)."""
    if mode not in MODES:
        raise UserError(f"mode must be one of {', '.join(MODES)}")
    reporter = reporter or Reporter()
    reporter.start(len(images), f"Captioning with {captioner.name}")
    report = CaptionReport()
    try:
        for index, path in enumerate(images, start=1):
            if reporter.should_stop():
                report.stopped = True
                break
            text_path = path.with_suffix(".txt")
            existing = read_caption(text_path).text if text_path.exists() else ""
            if mode == "skip" and existing.strip():
                report.skipped.append(path.name)
                reporter.step(index, f"{path.name}: kept")
                continue
            try:
                new = captioner.caption(load_image(path).image).strip()
            except ImageError as err:
                report.failed.append(str(err))
                continue
            if not new:
                report.failed.append(f"{path.name}: the captioner returned nothing")
                continue
            merged = merge_caption(existing, new, mode)
            if merged is not None:
                for folder in [path.parent] + list(mirrors or []):
                    if (folder / text_path.name).exists() or folder == path.parent or \
                            same_stem(folder, path.stem):
                        write_caption(folder / text_path.name, merged)
                report.written.append(path.name)
            reporter.step(index, f"{path.name}: {merged}")
    finally:
        captioner.close()
        reporter.finish(f"captioned {len(report.written)}, kept {len(report.skipped)}")
    return report
