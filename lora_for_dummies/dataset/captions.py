"""Caption files: read any encoding sensibly, write UTF-8, bulk tag operations with preview/undo.

A caption is a comma-separated list of tags (booru style) or a sentence; the bulk operations
treat it as tags. Every change goes through `plan_*` (a preview: which files change and how) and
`apply_plan` (writes atomically and keeps one level of undo per folder).
"""

from __future__ import annotations

import codecs
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from lora_for_dummies.atomic import write_text_atomic
from lora_for_dummies.errors import UserError

UNDO_FILE = ".lfd_caption_undo.json"


@dataclass
class Caption:
    text: str
    encoding: str
    warning: str = ""


# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def _decode(data: bytes, name: str) -> tuple[str, str, list[str]]:
    """(text, encoding, what was done) — a byte-order mark decides; else UTF-8, then
    UTF-16 without a mark (Windows Notepad's "Unicode" has NULs between ASCII letters), then
    Windows-1252."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                break
            label = {"utf-8-sig": "utf-8"}.get(codec, codec)
            notes = [] if codec == "utf-8-sig" else [f"{name} was {label.upper()} (with a "
                                                     "byte-order mark); saved as UTF-8"]
            return text, label, notes
    try:
        return data.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError:
        pass
    if len(data) >= 4 and len(data) % 2 == 0 and data.count(0) >= len(data) // 4:
        even_nuls, odd_nuls = data[0::2].count(0), data[1::2].count(0)
        codec = "utf-16-le" if odd_nuls > even_nuls else "utf-16-be"
        try:
            return data.decode(codec), codec, [f"{name} was {codec.upper()} (no byte-order "
                                               "mark); saved as UTF-8"]
        except UnicodeDecodeError:
            pass
    try:
        text, encoding = data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        text, encoding = data.decode("latin-1"), "latin-1"
    return text, encoding, [f"{name} is not UTF-8; read as {encoding} (Latin-1 family) — "
                            "check accents, it is saved as UTF-8"]


def read_caption(path: Path) -> Caption:
    """Decode a caption whatever editor wrote it; NUL characters are removed. What was done
    is in `warning` (shown by processing and the pre-flight check)."""
    name = Path(path).name
    text, encoding, notes = _decode(Path(path).read_bytes(), name)
    if "\x00" in text:
        notes.append(f"{name}: removed {text.count(chr(0))} NUL character(s)")
        text = text.replace("\x00", "")
    return Caption(text, encoding, "; ".join(notes))


def has_caption(image: Path) -> bool:
    """Whether an image has a caption with words in it: a missing or blank .txt is none (the
    pre-flight check calls a blank one "empty caption"; training then uses the trigger word)."""
    caption = Path(image).with_suffix(".txt")
    try:
        return bool(read_caption(caption).text.strip())
    except OSError:
        return False


def write_caption(path: Path, text: str) -> None:
    write_text_atomic(path, text)


def split_tags(text: str) -> list[str]:
    return [tag.strip() for tag in text.replace("\n", ",").split(",") if tag.strip()]


def join_tags(tags: Iterable[str]) -> str:
    return ", ".join(tags)


def _normalise(tags: Iterable[str]) -> list[str]:
    return [re.sub(r"\s+", " ", t).strip() for t in tags]


def add_tags(text: str, tags: list[str], front: bool = True) -> str:
    """Add tags at the front (e.g. the trigger word) or the end; an existing tag is moved."""
    wanted = _normalise(tags)
    rest = [t for t in split_tags(text) if t not in wanted]
    return join_tags(wanted + rest if front else rest + wanted)


def remove_tags(text: str, tags: list[str]) -> str:
    unwanted = set(_normalise(tags))
    return join_tags(t for t in split_tags(text) if t not in unwanted)


def replace_text(text: str, search: str, replacement: str, regex: bool = False) -> str:
    if not search:
        return text
    if regex:
        try:
            return re.sub(search, replacement, text)
        except re.error as err:
            raise UserError(f"the pattern {search!r} is not a valid regular expression: {err}"
                            ) from None
    return text.replace(search, replacement)


def rename_tag(text: str, old: str, new: str) -> str:
    """Rename one whole tag (`red hair` → `crimson hair`), leaving tags that merely contain it
    (`red hair ribbon`) alone; a tag already present is not written twice."""
    old, new = _normalise([old])[0], _normalise([new])[0]
    renamed = [new if _normalise([tag])[0] == old else tag for tag in split_tags(text)]
    return join_tags(dict.fromkeys(t for t in renamed if t))


def dedupe_tags(text: str) -> str:
    return join_tags(dict.fromkeys(split_tags(text)))


def sort_tags(text: str, keep_first: int = 0) -> str:
    tags = split_tags(text)
    return join_tags(tags[:keep_first] + sorted(tags[keep_first:], key=str.lower))


def strip_whitespace(text: str) -> str:
    return join_tags(_normalise(split_tags(text)))


OPERATIONS: dict[str, Callable[..., str]] = {
    "add_front": lambda text, tags: add_tags(text, split_tags(tags), front=True),
    "add_end": lambda text, tags: add_tags(text, split_tags(tags), front=False),
    "remove": lambda text, tags: remove_tags(text, split_tags(tags)),
    "replace": lambda text, search, replacement="", regex=False: replace_text(
        text, search, replacement, regex),
    "rename": lambda text, old, new: rename_tag(text, old, new),
    "dedupe": lambda text: dedupe_tags(text),
    "sort": lambda text, keep_first=0: sort_tags(text, int(keep_first)),
    "strip": lambda text: strip_whitespace(text),
}


@dataclass
class Change:
    path: Path
    old: str
    new: str


def caption_files(folder: Path, stems: Iterable[str] | None = None) -> list[Path]:
    """The caption of every image in `folder` (existing or not), or of the chosen stems."""
    from lora_for_dummies.dataset.layout import is_image

    images = sorted((p for p in folder.iterdir() if is_image(p)), key=lambda p: p.name.lower())
    wanted = set(stems) if stems is not None else None
    return [p.with_suffix(".txt") for p in images if wanted is None or p.stem in wanted]


def plan(files: list[Path], operation: str, **args: object) -> list[Change]:
    """What `operation` would change: only files whose text differs are listed."""
    if operation not in OPERATIONS:
        raise UserError(f"unknown caption operation {operation!r}")
    changes = []
    for path in files:
        old = read_caption(path).text if path.exists() else ""
        new = OPERATIONS[operation](old, **args)
        if new != old:
            changes.append(Change(path, old, new))
    return changes


def apply_plan(changes: list[Change], mirrors: Iterable[Path] = (), more: bool = False) -> int:
    """Write the changes and remember the previous texts for `undo_last` (one level per folder).

    `mirrors` are folders holding the same stems (LOWRES beside HIGHRES): they get the same text.
    `more`: these changes continue the same operation (an auto-caption run writes batch by
    batch), so its undo record grows instead of being replaced.
    """
    mirrored = []
    for folder in mirrors:
        stems = {p.stem for p in caption_files(folder)} if folder.is_dir() else set()
        for change in changes:
            twin = folder / change.path.name
            if twin.stem in stems:
                old = read_caption(twin).text if twin.exists() else ""
                mirrored.append(Change(twin, old, change.new))
    changes = list(changes) + mirrored
    by_folder: dict[Path, dict[str, str | None]] = {}
    for change in changes:
        previous = change.old if change.path.exists() else None
        by_folder.setdefault(change.path.parent, {})[change.path.name] = previous
    for folder, previous in by_folder.items():
        undo = folder / UNDO_FILE
        if more and undo.is_file():  # the text before the operation began wins
            previous = dict(previous, **json.loads(undo.read_text(encoding="utf-8")))
        write_text_atomic(undo, json.dumps(previous, ensure_ascii=False))
    for change in changes:
        write_caption(change.path, change.new)
    return len(changes) - len(mirrored)


def undo_last(folder: Path) -> int:
    """Restore the captions the last bulk operation in `folder` changed. Returns the count."""
    undo = folder / UNDO_FILE
    if not undo.is_file():
        return 0
    previous: dict[str, str | None] = json.loads(undo.read_text(encoding="utf-8"))
    for name, text in previous.items():
        if text is None:
            (folder / name).unlink(missing_ok=True)
        else:
            write_caption(folder / name, text)
    undo.unlink()
    return len(previous)


def tag_frequency(files: Iterable[Path]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in files:
        if path.exists():
            counts.update(dict.fromkeys(split_tags(read_caption(path).text), 1))
    return counts
