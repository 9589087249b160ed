"""kohya's repeat-folder layout (`<train dir>/<repeats>_<name>/image + .txt`), both ways.

Export makes a folder kohya's sd-scripts (and kohya_ss) train from directly; import turns such a
folder into a dataset here, one concept per repeat folder, keeping repeats and the token.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from lora_for_dummies.dataset.layout import (
    Concept,
    Dataset,
    create_dataset,
    import_images,
    is_image,
    open_dataset,
)
from lora_for_dummies.errors import UserError
from lora_for_dummies.names import check_name

REPEAT_FOLDER = re.compile(r"^(\d+)_(.+)$")


def export_kohya(dataset: Dataset, destination: Path, resolution: str = "high") -> list[Path]:
    """Copy each concept's processed images and captions to `destination/<repeats>_<token>`."""
    made = []
    for concept in dataset.concepts.values():
        source = dataset.folder(concept, resolution)
        images = [p for p in source.iterdir() if is_image(p)] if source.is_dir() else []
        if not images:
            continue
        label = concept.token or concept.title
        folder = Path(destination) / f"{concept.repeats}_{check_name(label, 'concept token')}"
        folder.mkdir(parents=True, exist_ok=True)
        for image in images:
            shutil.copy2(image, folder / image.name)
            caption = image.with_suffix(".txt")
            if caption.exists():
                shutil.copy2(caption, folder / caption.name)
        made.append(folder)
    if not made:
        from lora_for_dummies.dataset.layout import no_images_advice

        main = next(iter(dataset.concepts.values()), None)
        raise UserError(f"nothing to export: {no_images_advice(dataset, main)}" if main else
                        f"dataset {dataset.name!r} has no concepts to export")
    return made


def _plan(folders: list[Path]) -> list[tuple[Path, int, str, str]]:
    """(folder, repeats, token, concept name) for each repeat folder, every name checked first:
    one bad folder name and nothing is imported."""
    from lora_for_dummies.ranges import check_value

    planned, problems, seen = [], [], set()
    for index, folder in enumerate(folders):
        repeats, label = REPEAT_FOLDER.match(folder.name).groups()  # type: ignore[union-attr]
        token = label.split(" ")[0]
        concept_name = "" if index == 0 else re.sub(r"[^\w-]+", "_", label).strip("_")
        try:
            check_value("dataset.repeats", int(repeats), f"{folder.name}: repeats")
            if concept_name:
                check_name(concept_name, f"concept name (from folder {folder.name!r})")
            elif index:
                raise UserError(f"{folder.name}: no usable concept name in it")
            if concept_name in seen:
                raise UserError(f"{folder.name}: another folder gives the same concept name "
                                f"{concept_name!r}")
            seen.add(concept_name)
        except UserError as err:
            problems.append(str(err))
        planned.append((folder, int(repeats), token, concept_name))
    if problems:
        raise UserError("nothing imported: " + "; ".join(problems))
    return planned


def import_kohya(source: Path, datasets_dir: Path, name: str,
                 skipped: list[str] | None = None) -> Dataset:
    """Create dataset `name` from a kohya training folder (or its parent holding `img/`).

    Entries that are not repeat folders are listed in `skipped` with the reason."""
    source = Path(source)
    if (source / "img").is_dir():
        source = source / "img"
    entries = sorted(source.iterdir()) if source.is_dir() else []
    folders = [p for p in entries if p.is_dir() and REPEAT_FOLDER.match(p.name)]
    if skipped is not None:
        skipped += [f"{p.name}: not a repeat folder (named like 10_mytoken)" for p in entries
                    if p.is_dir() and p not in folders]
    if not folders:
        raise UserError(f"{source} has no kohya repeat folders (named like 10_mytoken)")
    # The folder with the most images becomes the main concept (IMGS); the others IMGS_<name>.
    folders.sort(key=lambda p: (-sum(1 for f in p.iterdir() if is_image(f)), p.name))
    name = check_name(name)
    planned = _plan(folders)
    dataset = create_dataset(datasets_dir, name)
    for folder, repeats, token, concept_name in planned:
        if concept_name:
            create_dataset(datasets_dir, name, concept_name)
            dataset = open_dataset(dataset.root)
        concept = dataset.concepts.get(concept_name) or Concept(concept_name)
        concept.repeats, concept.token = int(repeats), token
        dataset.concepts[concept_name] = concept
        dataset.save()
        import_images(dataset, [folder], concept_name)
    return open_dataset(dataset.root)
