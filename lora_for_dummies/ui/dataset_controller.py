"""What the Dataset tab does, as plain functions of the host and the widgets' values.

No gradio here except through `compat.update`, so every action is testable without a browser.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from lora_for_dummies.dataset import captions as cap
from lora_for_dummies.dataset.autocaption import CaptionOptions
from lora_for_dummies.dataset.layout import (
    Dataset,
    create_dataset,
    import_images,
    is_image,
    list_datasets,
    open_dataset,
)
from lora_for_dummies.dataset.preflight import run_preflight
from lora_for_dummies.dataset.process import ProcessSettings, process_concept
from lora_for_dummies.errors import UserError
from lora_for_dummies.hosts.base import Host
from lora_for_dummies.names import check_name, same_stem
from lora_for_dummies.progress import Reporter
from lora_for_dummies.tokenizer import token_report

MAIN = "main"
BULK_OPERATIONS = {
    "Add tags at the front (trigger word)": "add_front",
    "Add tags at the end": "add_end",
    "Remove tags": "remove",
    "Search and replace": "replace",
    "Rename a tag": "rename",
    "Remove duplicate tags": "dedupe",
    "Sort tags (keep the first)": "sort",
    "Tidy whitespace": "strip",
}


class DatasetController:
    def __init__(self, host: Host) -> None:
        self.host = host

    # -- datasets and concepts -------------------------------------------------------------
    def datasets(self) -> list[str]:
        return list_datasets(self.host.datasets_dir())

    def open(self, name: str | None) -> Dataset:
        if not name:
            raise UserError("choose or create a dataset first")
        return open_dataset(self.host.datasets_dir() / check_name(name))

    def concepts(self, name: str | None) -> list[str]:
        try:
            return [c.title for c in self.open(name).concepts.values()]
        except UserError:
            return []

    def create(self, name: str, concept: str) -> tuple[str, str]:
        dataset = create_dataset(self.host.datasets_dir(), name, concept)
        return dataset.name, f"Created {dataset.root}"

    def import_files(self, name: str, concept: str, paths: list[str],
                     join_duplicate_captions: bool = False) -> str:
        dataset = self.open(name)
        report = import_images(dataset, [Path(p) for p in paths if p],
                               "" if concept == MAIN else concept, join_duplicate_captions)
        lines = [f"Imported {len(report.copied)} images and {len(report.captions)} captions "
                 f"into {dataset.concept(concept).originals_dir}."]
        return "\n".join(lines + [f"Skipped {s}" for s in report.skipped])

    def concept_settings(self, name: str | None, concept: str | None) -> tuple[str, int, str]:
        try:
            selected = self.open(name).concept(concept or MAIN)
        except UserError:
            return "", 10, ""
        return selected.token, selected.repeats, selected.class_prompt

    def save_concept(self, name: str, concept: str, token: str, repeats: int,
                     class_prompt: str) -> str:
        dataset = self.open(name)
        selected = dataset.concept(concept or MAIN)
        from lora_for_dummies.ranges import check_value

        check_value("dataset.repeats", int(repeats), "repeats")
        selected.token, selected.repeats = token.strip(), int(repeats)
        selected.class_prompt = class_prompt.strip()
        dataset.save()
        return (f"Saved the concept settings of {dataset.name} / {selected.title}: trigger word "
                f"{selected.token!r}, {selected.repeats} repeats"
                + (f", class prompt {selected.class_prompt!r}" if selected.class_prompt else ""))

    def export_kohya(self, name: str, destination: str, resolution: str) -> str:
        from lora_for_dummies.dataset.kohya import export_kohya

        if not destination.strip():
            raise UserError("type the folder to export to")
        folders = export_kohya(self.open(name), Path(destination.strip()), resolution)
        return "Exported: " + ", ".join(str(f) for f in folders)

    def import_kohya(self, source: str, new_name: str) -> tuple[str, str]:
        from lora_for_dummies.dataset.kohya import import_kohya

        if not source.strip():
            raise UserError("type the kohya training folder")
        dataset = import_kohya(Path(source.strip()), self.host.datasets_dir(), new_name)
        concepts = ", ".join(f"{c.title} ({c.repeats}× {c.token})"
                             for c in dataset.concepts.values())
        return dataset.name, f"Imported {dataset.name}: {concepts}"

    # -- processing ------------------------------------------------------------------------
    def process(self, name: str, concept: str, settings: ProcessSettings,
                reporter: Reporter) -> str:
        dataset = self.open(name)
        report = process_concept(dataset, dataset.concept(concept), settings, reporter)
        return "\n".join(report.lines())

    # -- captions --------------------------------------------------------------------------
    def folders(self, name: str, concept: str) -> tuple[Path, Path]:
        dataset = self.open(name)
        selected = dataset.concept(concept)
        return dataset.folder(selected, "high"), dataset.folder(selected, "low")

    def gallery(self, name: str | None, concept: str | None) -> list[tuple[str, str]]:
        try:
            high, _ = self.folders(name or "", concept or MAIN)
        except UserError:
            return []
        if not high.is_dir():
            return []
        images = sorted((p for p in high.iterdir() if is_image(p)), key=lambda p: p.name.lower())
        return [(str(p), p.stem) for p in images]

    def stems(self, name: str | None, concept: str | None) -> list[str]:
        return [Path(path).stem for path, _ in self.gallery(name, concept)]

    def neighbour(self, name: str | None, concept: str | None, stem: str,
                  step: int) -> tuple[str, str, str | None]:
        """(stem, caption, image) `step` places from `stem` in the gallery's order, wrapping
        around; the first image when `stem` is not (or no longer) there."""
        items = self.gallery(name, concept)
        if not items:
            return "", "", None
        stems = [s for _, s in items]
        index = (stems.index(stem) + step) % len(items) if stem in stems else 0
        path, chosen = items[index]
        return chosen, self.load_caption(name or "", concept or MAIN, chosen), path

    def editor_now(self, name: str | None, concept: str | None,
                   stem: str) -> tuple[str, str, str | None]:
        """(stem, caption, image) as the files are now; empty when `stem` is not (or no longer)
        an image of that dataset and concept."""
        for path, shown in self.gallery(name, concept):
            if shown == stem:
                return stem, self.load_caption(name or "", concept or MAIN, stem), path
        return "", "", None

    def image_of(self, name: str | None, concept: str | None, stem: str) -> str | None:
        return next((path for path, s in self.gallery(name, concept) if s == stem), None)

    def load_caption(self, name: str, concept: str, stem: str) -> str:
        high, _ = self.folders(name, concept)
        path = high / f"{stem}.txt"
        return cap.read_caption(path).text if path.exists() else ""

    def save_caption(self, name: str, concept: str, stem: str, text: str) -> str:
        if not stem:
            raise UserError("click an image first")
        high, low = self.folders(name, concept)
        for folder in (high, low):
            if same_stem(folder, stem):
                cap.write_caption(folder / f"{stem}.txt", text)
        return f"Saved {stem}.txt ({token_report(text)['label']} tokens)"

    @staticmethod
    def token_label(text: str) -> str:
        report = token_report(text or "")
        warning = ""
        if report["over"]:
            warning = " — over 75: the text is read in chunks of 75 tokens"
        if report["straddling"]:
            warning += f"; cut by a chunk boundary: {', '.join(report['straddling'][:3])}"
        return f"Tokens: {report['label']}{warning}"

    def _bulk_files(self, name: str, concept: str, selection: list[str] | None) -> list[Path]:
        high, _ = self.folders(name, concept)
        return cap.caption_files(high, selection or None)

    def preview_bulk(self, name: str, concept: str, operation: str, selection: list[str],
                     text: str, replacement: str, regex: bool, keep_first: int) -> list[list[str]]:
        changes = self._plan(name, concept, operation, selection, text, replacement, regex,
                             keep_first)
        return [[c.path.name, c.old, c.new] for c in changes]

    def apply_bulk(self, name: str, concept: str, operation: str, selection: list[str],
                   text: str, replacement: str, regex: bool, keep_first: int) -> str:
        changes = self._plan(name, concept, operation, selection, text, replacement, regex,
                             keep_first)
        _, low = self.folders(name, concept)
        count = cap.apply_plan(changes, mirrors=[low])
        return (f"Changed {count} caption{'' if count == 1 else 's'} (Undo restores them; it "
                "goes back one step, this one, until the next change).")

    def undo_bulk(self, name: str, concept: str) -> str:
        high, low = self.folders(name, concept)
        count = cap.undo_last(high)
        cap.undo_last(low)
        return f"Restored {count} captions." if count else "Nothing to undo."

    def _plan(self, name: str, concept: str, operation: str, selection: list[str], text: str,
              replacement: str, regex: bool, keep_first: int) -> list[cap.Change]:
        key = BULK_OPERATIONS.get(operation, operation)
        args: dict[str, Any] = {}
        if key in ("add_front", "add_end", "remove"):
            if not text.strip():
                raise UserError("type the tags, separated by commas")
            args["tags"] = text
        elif key == "replace":
            args.update(search=text, replacement=replacement, regex=bool(regex))
        elif key == "rename":
            if not text.strip() or not replacement.strip():
                raise UserError("type the tag to rename and, under Replace with, its new name")
            args.update(old=text, new=replacement)
        elif key == "sort":
            args["keep_first"] = int(keep_first or 0)
        return cap.plan(self._bulk_files(name, concept, selection), key, **args)

    def frequency(self, name: str | None, concept: str | None) -> list[list[Any]]:
        try:
            high, _ = self.folders(name or "", concept or MAIN)
        except UserError:
            return []
        counts = cap.tag_frequency(cap.caption_files(high)) if high.is_dir() else {}
        return [[tag, count] for tag, count in sorted(counts.items(), key=lambda x: (-x[1], x[0]))]

    def images_with_tag(self, name: str | None, concept: str | None, tag: str) -> list[str]:
        """The stems of the images whose caption holds `tag` (the tag table's click)."""
        try:
            high, _ = self.folders(name or "", concept or MAIN)
        except UserError:
            return []
        files = cap.caption_files(high) if high.is_dir() else []
        return [p.stem for p in files
                if p.exists() and tag in cap.split_tags(cap.read_caption(p).text)]

    # -- auto-caption ----------------------------------------------------------------------
    def autocaption(self, name: str, concept: str, captioner: str, options: CaptionOptions,
                    mode: str, reporter: Reporter, preview: int = 0) -> str:
        from dataclasses import replace

        from lora_for_dummies.dataset.autocaption import (
            caption_concept,
            local_key,
            summary,
            why_unavailable,
        )
        from lora_for_dummies.dataset.model_download import model_folder
        from lora_for_dummies.progress import StopRequested

        factories = self.host.captioners()
        if captioner not in factories:
            raise UserError(f"unknown captioner {captioner!r}")
        why = why_unavailable(captioner)
        if why:
            raise UserError(why)
        dataset = self.open(name)
        selected = dataset.concept(concept)
        key = local_key(captioner)
        if key is not None:  # a folder, or a repository downloaded on first use
            try:
                folder = model_folder(options.model, key, self.host.captioners_dir(), reporter)
            except StopRequested:
                return "Download stopped: press again and it goes on where it stopped."
            options = replace(options, model=str(folder))
        report = caption_concept(dataset, selected, factories[captioner](options), mode,
                                 reporter, preview)
        return summary(report)

    # -- pre-flight ------------------------------------------------------------------------
    def preflight(self, name: str, resolution: int,
                  family: str) -> tuple[list[list[str]], str]:
        """The findings' rows and the summary: per concept its images and repeats, then the
        run in the Train tab's terms (total steps on this device, train/estimate.py)."""
        report = run_preflight(self.open(name), int(resolution), family=family,
                               unet_params=self._train_base_size())
        parts = [f"<b>{html.escape(c.concept)}</b>: {c.originals} originals, {c.processed} "
                 f"processed, repeats {c.repeats}" for c in report.concepts]
        rows = report.rows()
        count = f"{len(rows)} thing{'s' if len(rows) != 1 else ''}"
        parts.insert(0, f"<b>{count} to look at</b> (in the table below; click one to open its "
                        "image)" if rows else "<b>No problems found.</b>")
        parts.append("Training them as the Train tab's guided path would: "
                     f"{html.escape(str(report.estimate['line']), quote=False)}")
        return rows, "<br>".join(parts)

    def _train_base_size(self) -> float | None:
        """The UNet size of the base chosen in the Train tab (the time depends on it)."""
        from lora_for_dummies.train.estimate import unet_parameters
        from lora_for_dummies.ui.train_form import base_title

        title = base_title(self.host)
        entry = next((e for e in self.host.checkpoints() if e.title == title), None)
        try:
            return unet_parameters(entry.path) if entry else None
        except UserError:
            return None
