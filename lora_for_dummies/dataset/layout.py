"""Dataset folders: names, creation, concepts, importing images (and their captions)."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lora_for_dummies import messages as msg
from lora_for_dummies.atomic import atomic_path, write_text_atomic
from lora_for_dummies.errors import UserError
from lora_for_dummies.names import check_name

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
ORIGINALS = "IMGS"
HIGH = "HIGHRES_CONCEPT"
LOW = "LOWRES_CONCEPT"
SETTINGS_FILE = "dataset.json"
def is_image(path: Path) -> bool:
    suffix_ok = path.suffix.lower() in IMAGE_SUFFIXES
    return suffix_ok and path.is_file() and not path.name.startswith(".")


@dataclass
class Concept:
    name: str  # "" for the main concept (IMGS)
    token: str = ""  # trigger word / instance token
    repeats: int = 10
    class_prompt: str = ""

    @property
    def originals_dir(self) -> str:
        return ORIGINALS if not self.name else f"{ORIGINALS}_{self.name}"

    @property
    def high_dir(self) -> str:
        return HIGH if not self.name else f"{HIGH}_{self.name}"

    @property
    def low_dir(self) -> str:
        return LOW if not self.name else f"{LOW}_{self.name}"

    @property
    def title(self) -> str:
        return self.name or "main"


@dataclass
class Dataset:
    root: Path
    concepts: dict[str, Concept] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.root.name

    def concept(self, name: str = "") -> Concept:
        name = "" if name in ("", "main") else name
        if name not in self.concepts:
            raise UserError(f"dataset {self.name!r} has no concept {name or 'main'!r}")
        return self.concepts[name]

    def folder(self, concept: Concept, which: str) -> Path:
        """which: 'originals' | 'high' | 'low'."""
        return self.root / {"originals": concept.originals_dir, "high": concept.high_dir,
                            "low": concept.low_dir}[which]

    def save(self) -> None:
        data = {"concepts": [asdict(c) for c in self.concepts.values()]}
        write_text_atomic(self.root / SETTINGS_FILE, json.dumps(data, indent=2) + "\n")


def no_images_advice(dataset: Dataset, concept: Concept) -> str:
    """What a concept without processed images needs next, in the words every tab uses: an
    empty dataset needs images imported first; imported originals need Process."""
    where = f"{dataset.name} / {concept.title}"
    originals = dataset.folder(concept, "originals")
    if not (originals.is_dir() and any(is_image(p) for p in originals.iterdir())):
        return msg.NOTHING_IMPORTED.format(where=where)
    return msg.NOT_PROCESSED.format(where=where)


def concept_of_folder(folder: str | Path) -> tuple[Dataset, Concept] | None:
    """The dataset and concept a processed folder (`<dataset>/HIGHRES_CONCEPT[_name]`, or the
    LOWRES one) belongs to; None for a folder outside any dataset (a kohya folder, a path)."""
    folder = Path(folder)
    for prefix in (HIGH, LOW):
        if folder.name == prefix or folder.name.startswith(prefix + "_"):
            root = folder.parent
            if not (root / ORIGINALS).is_dir():
                return None
            try:
                dataset = open_dataset(root)
                return dataset, dataset.concept(folder.name[len(prefix) + 1:])
            except UserError:
                return None
    return None


def open_dataset(root: Path) -> Dataset:
    """Read a dataset folder: concepts from its IMGS* folders and dataset.json."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"dataset folder {root} does not exist")
    dataset = Dataset(root)
    saved = {}
    settings = root / SETTINGS_FILE
    if settings.is_file():
        try:
            for item in json.loads(settings.read_text(encoding="utf-8")).get("concepts", []):
                saved[item.get("name", "")] = Concept(**item)
        except (ValueError, TypeError) as err:
            raise UserError(f"{settings}: unreadable ({err})") from None
    for folder in sorted(root.iterdir()):
        is_originals = folder.name == ORIGINALS or folder.name.startswith(ORIGINALS + "_")
        if is_originals and folder.is_dir():
            name = folder.name[len(ORIGINALS) + 1:]
            dataset.concepts[name] = saved.get(name, Concept(name))
    return dataset


def list_datasets(datasets_dir: Path) -> list[str]:
    if not Path(datasets_dir).is_dir():
        return []
    return sorted((p.name for p in Path(datasets_dir).iterdir()
                   if p.is_dir() and (p / ORIGINALS).is_dir()), key=str.lower)


def create_dataset(datasets_dir: Path, name: str, concept: str = "") -> Dataset:
    """Create `name` (and a concept) under the datasets folder; existing folders are kept."""
    name = check_name(name)
    root = Path(datasets_dir) / name
    new_concept = Concept(check_name(concept, "concept name") if concept else "")
    for folder in (new_concept.originals_dir, new_concept.high_dir, new_concept.low_dir):
        (root / folder).mkdir(parents=True, exist_ok=True)
    dataset = open_dataset(root)
    dataset.save()
    return dataset


@dataclass
class ImportReport:
    copied: list[str] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "name: reason"


def _unreadable(path: Path) -> str:
    """Why `path` cannot be imported as an image ("" if it can): checked before copying, so a
    broken file (or a decompression bomb) never lands among the originals."""
    from lora_for_dummies.dataset.imageio import image_problem

    return image_problem(path)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _duplicate_caption(source: Path, caption: Path, existing: Path, join: bool,
                       report: ImportReport) -> str:
    """A picture already imported (byte for byte) came with its own caption: never dropped
    without a word. Taken when the kept picture has none; joined when asked; else reported
    with the way to keep it. Returns the skip line."""
    from lora_for_dummies.dataset.captions import (
        join_tags,
        read_caption,
        split_tags,
        write_caption,
    )

    line = f"{source.name}: already in {existing.parent.name} as {existing.name}"
    kept = existing.with_suffix(".txt")
    new_text = read_caption(caption).text.strip()
    old_text = read_caption(kept).text.strip() if kept.is_file() else ""
    if not new_text or new_text == old_text:
        return line
    if not old_text:
        write_caption(kept, new_text)
        report.captions.append(kept.name)
        return f"{line}; its caption {caption.name} was kept as {kept.name}"
    if join:  # the kept caption as it is, then the duplicate's tags it does not have yet
        old_tags = split_tags(old_text)
        write_caption(kept, join_tags(old_tags + [t for t in split_tags(new_text)
                                                  if t not in old_tags]))
        report.captions.append(kept.name)
        return f"{line}; its caption {caption.name} was joined into {kept.name}"
    return (f"{line}; its caption {caption.name} differs from {kept.name} and was not imported "
            "(tick 'Join the captions of duplicates' and import again to keep both)")


def import_images(dataset: Dataset, sources: list[Path], concept: str = "",
                  join_duplicate_captions: bool = False) -> ImportReport:
    """Copy images (and a same-stem .txt caption beside each) into the concept's originals.

    `sources` are files or folders (folders are read recursively). An identical file already
    there is skipped; a different file with the same stem gets a new stem, so processed images
    and captions never collide. A `.txt` given among `sources` is the caption of the image of
    the same name wherever each was put (gradio 5 stores every upload in a folder of its own);
    one that matches no image is reported.
    """
    target = dataset.folder(dataset.concept(concept), "originals")
    target.mkdir(parents=True, exist_ok=True)
    report = ImportReport()
    files: list[Path] = []
    given_captions: dict[str, Path] = {}  # stem (lower case) → a .txt given as a file
    for source in map(Path, sources):
        if source.is_dir():
            files += sorted(p for p in source.rglob("*") if is_image(p))
        elif is_image(source):
            files.append(source)
        elif source.suffix.lower() == ".txt":
            given_captions[source.stem.lower()] = source
        else:
            report.skipped.append(f"{source.name}: not an image file")
    image_stems = {p.stem.lower() for p in files}
    for stem, caption in sorted(given_captions.items()):
        if stem not in image_stems:
            report.skipped.append(f"{caption.name}: a caption without an image of the same "
                                  "name (drop it together with its image)")
    existing = {p.stem.lower(): p for p in target.iterdir() if is_image(p)}
    contents = {_digest(p): p.name for p in existing.values()}
    for source in files:
        problem = _unreadable(source)
        if problem:
            report.skipped.append(f"{source.name}: {problem}")
            continue
        digest = _digest(source)
        if digest in contents:
            caption = source.with_suffix(".txt")
            if not caption.is_file():
                caption = given_captions.get(source.stem.lower(), caption)
            existing_image = target / contents[digest]
            report.skipped.append(
                _duplicate_caption(source, caption, existing_image, join_duplicate_captions,
                                   report) if caption.is_file() else
                f"{source.name}: already in {target.name} as {contents[digest]}")
            continue
        stem, clash = source.stem, existing.get(source.stem.lower())
        number = 1
        while clash is not None:
            stem = f"{source.stem}_{number}"
            clash, number = existing.get(stem.lower()), number + 1
        destination = target / f"{stem}{source.suffix.lower()}"
        with atomic_path(destination) as tmp:
            shutil.copy2(source, tmp)
        existing[stem.lower()] = destination
        contents[digest] = destination.name
        report.copied.append(destination.name)
        caption = source.with_suffix(".txt")
        if not caption.is_file():
            caption = given_captions.get(source.stem.lower(), caption)
        if caption.is_file():
            with atomic_path(target / f"{stem}.txt") as tmp:
                shutil.copy2(caption, tmp)
            report.captions.append(f"{stem}.txt")
    return report
