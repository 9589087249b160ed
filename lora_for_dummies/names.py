"""User-chosen names (datasets, concepts, runs, LoRAs, presets): validated once, matched literally.

A name is data, never a pattern: `char [v2]` and `dog*` are ordinary names here. Every lookup of
files by a name goes through the helpers below, which compare strings and never hand the name to
`glob`, a regular expression or a shell.
"""

from __future__ import annotations

import re
from pathlib import Path

from lora_for_dummies import messages as msg

# Windows refuses these as a file or folder name with any extension ("CON.txt", "con .txt") and
# whatever the case; CONIN$ / CONOUT$ are console devices, COM¹..³ / LPT¹..³ count as digits.
_DIGITS = [str(i) for i in range(1, 10)] + ["¹", "²", "³"]
WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
                             | {f"COM{d}" for d in _DIGITS} | {f"LPT{d}" for d in _DIGITS})
_BAD_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
MAX_LENGTH = 100
# ext4, btrfs, xfs and APFS take at most 255 bytes per file name, NTFS 255 UTF-16 units (never
# more than UTF-8 bytes): a name is checked in bytes, as the longest file it will ever become.
MAX_FILE_NAME_BYTES = 255
# Files of ours that are not finished yet: a leading dot hides them from the webui's Lora list
# (it skips hidden files) and the suffix lets the next job find and remove leftovers.
TEMP_PREFIX, TEMP_SUFFIX = ".lfd-", ".tmp"
STEP_SUFFIX = ".safetensors"
# A temporary file is `.lfd-<final name>.<writer's process id>.<mkstemp's 8 characters>.tmp`:
# the process id lets the next job remove a dead writer's leftovers at once.
_TEMP_RANDOM = 8
_LONGEST_PID = 10  # 32-bit process ids (Linux's pid_max is 4,194,304; Windows' ids are larger)
# The longest step number a run can reach (training.steps ≤ 10,000,000 in ranges.py; step files
# are `<name>-{step:06d}`) and the longest repeats count (concepts.repeats ≤ 10,000).
_LONGEST_STEP = "-" + "9" * 8
_LONGEST_REPEATS = "10000"
# Every file or folder a kind of name becomes, `{}` standing for the name. The temporary name
# the atomic writer uses around each file is added by `longest_file_name`.
NAME_FILES: dict[str, tuple[str, ...]] = {
    "dataset name": ("{}",),
    "concept name": ("HIGHRES_CONCEPT_{}", "LOWRES_CONCEPT_{}"),
    "concept token": (_LONGEST_REPEATS + "_{}",),
    "run name": ("{}" + _LONGEST_STEP + STEP_SUFFIX, "{}.selfcheck.json", "{}.preview.png"),
    "LoRA name": ("{}" + STEP_SUFFIX, "{}.selfcheck.json", "{}.preview.png", "{}.json"),
    "preset name": ("{}.toml",),
}


def check_name(name: str, what: str = "dataset name") -> str:
    """Return the name stripped, or raise UserError: no paths, no `..`, valid on Windows too.

    Callers keep and use the returned form: the stripped name is the name.
    """
    if not isinstance(name, str):
        raise msg.NAME_NOT_TEXT.error(what=what, kind=type(name).__name__)
    cleaned = name.strip()
    if not cleaned:
        raise msg.NAME_EMPTY.error(what=what)
    if cleaned in (".", "..") or ".." in cleaned or _BAD_CHARS.search(cleaned):
        raise msg.NAME_BAD_CHARS.error(what=what, name=name)
    # Windows compares the part before the first dot, ignoring trailing spaces ("CON .txt").
    stem = cleaned.split(".")[0].rstrip(" ").upper()
    if stem in WINDOWS_RESERVED or cleaned.endswith((".", " ")):
        raise (msg.NAME_RESERVED.error(what=what, name=name, stem=stem)
               if stem in WINDOWS_RESERVED else msg.NAME_WINDOWS.error(what=what, name=name))
    if cleaned.startswith(TEMP_PREFIX):
        raise msg.NAME_TEMP.error(what=what, name=name, prefix=TEMP_PREFIX)
    if len(cleaned) > MAX_LENGTH:
        raise msg.NAME_TOO_LONG.error(what=what, limit=MAX_LENGTH)
    longest = longest_file_name(cleaned, what)
    size = len(longest.encode("utf-8"))
    if size > MAX_FILE_NAME_BYTES:
        raise msg.NAME_TOO_MANY_BYTES.error(what=what, file=longest, size=size,
                                            limit=MAX_FILE_NAME_BYTES,
                                            over=size - MAX_FILE_NAME_BYTES)
    return cleaned


def longest_file_name(name: str, what: str) -> str:
    """The longest file name `name` will produce as a `what` (its temporary name included)."""
    kind = what.split(" (")[0]  # "concept name (from folder …)" is a concept name
    files = [t.format(name) for t in NAME_FILES.get(kind, ("{}",))]
    candidates = files + [temp_name(f) for f in files if "." in f]  # folders are not atomic
    return max(candidates, key=lambda n: len(n.encode("utf-8")))


def temp_name(final: str) -> str:
    """The name (its random part as x's) of the atomic writer's temporary file for `final`."""
    return f"{TEMP_PREFIX}{final}.{'9' * _LONGEST_PID}.{'x' * _TEMP_RANDOM}{TEMP_SUFFIX}"


def temp_writer(name: str) -> int | None:
    """The process id in a temporary file's name (None for names without one)."""
    parts = name.split(".")
    return int(parts[-3]) if len(parts) >= 4 and parts[-3].isdigit() else None


def step_number(file_name: str, name: str) -> int | None:
    """The step of `<name>-<digits>.safetensors`, compared literally; None for other files."""
    prefix = name + "-"
    if not (file_name.startswith(prefix) and file_name.endswith(STEP_SUFFIX)):
        return None
    digits = file_name[len(prefix): -len(STEP_SUFFIX)]
    return int(digits) if digits.isascii() and digits.isdigit() else None


def step_files(folder: str | Path, name: str) -> list[tuple[int, Path]]:
    """The step files `<name>-<step>.safetensors` in `folder`, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        step = step_number(path.name, name)
        if step is not None and path.is_file():
            found.append((step, path))
    return sorted(found)


def lora_files(folder: str | Path, name: str) -> list[Path]:
    """`<name>.safetensors` (when present) and the step files of `name`, literally."""
    main = Path(folder) / f"{name}.safetensors"
    return ([main] if main.is_file() else []) + [p for _, p in step_files(folder, name)]


def same_stem(folder: str | Path, stem: str) -> list[Path]:
    """Files in `folder` whose name is `<stem>.<anything>` (e.g. an image and its caption)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith(stem + "."))


def is_temp_file(path: Path) -> bool:
    return path.name.startswith(TEMP_PREFIX) and path.name.endswith(TEMP_SUFFIX)
