"""A captioner's model on first use: a local folder the user names (never the network), or a
Hugging Face repository downloaded once into the host's captioner folder.

The download is huggingface_hub's `snapshot_download`, which resumes a file it was
interrupted in (0.x, what A1111, Forge and Forge Neo pin; newer releases start that file again);
it runs in a child process (`hub_fetch.py`) so that Stop ends it at once,
and its progress is the bytes arriving on disk (the same on every huggingface_hub version the
hosts pin). Only the files a captioner reads are fetched, safetensors and ONNX, never a
pickle. A finished download leaves a marker, so a half-finished folder is never used.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lora_for_dummies.atomic import write_text_atomic
from lora_for_dummies.errors import UserError
from lora_for_dummies.progress import Reporter, StopRequested

DONE = ".lfd-downloaded"  # written last: the folder is complete
# owner/name as the hub allows them (letters, digits, - _ .; 96 characters each)
_REPO = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}")
POLL_S = 0.5
# Run as a script: it imports only huggingface_hub, so it starts wherever this package was
# imported from (the webui puts extensions on sys.path, not on PYTHONPATH).
FETCH = Path(__file__).with_name("hub_fetch.py")


@dataclass(frozen=True)
class Known:
    repo: str
    about: str  # its download size, said before anything starts
    note: str


# The repositories each captioner is usually run with (autocaption.LOCAL's keys), best first.
KNOWN: dict[str, tuple[Known, ...]] = {
    "wd14": (Known("SmilingWolf/wd-eva02-large-tagger-v3", "1.3 GB", "the most accurate"),
             Known("SmilingWolf/wd-vit-tagger-v3", "380 MB", "fast, a little less accurate"),
             Known("SmilingWolf/wd-swinv2-tagger-v3", "470 MB", "between the two")),
    "florence2": (Known("florence-community/Florence-2-large", "1.6 GB", "the better prose"),
                  Known("florence-community/Florence-2-base", "0.5 GB", "smaller, faster")),
    "blip": (Known("Salesforce/blip-image-captioning-base", "1 GB", "short sentences"),),
}
# What each captioner reads from its repository: weights as safetensors / ONNX only.
FILES: dict[str, tuple[str, ...]] = {
    "wd14": ("model.onnx", "selected_tags.csv"),
    "florence2": ("*.json", "*.safetensors", "*.txt"),
    "blip": ("*.json", "*.safetensors", "*.txt"),
}


def known_line(key: str) -> str:
    """The repositories to type for this captioner, with their sizes (for the help)."""
    return "; ".join(f"{k.repo} (about {k.about}, {k.note})" for k in KNOWN.get(key, ()))


def repo_id(text: str) -> str | None:
    """`text` as a repository id, or None when it is not one (a path, a typo)."""
    text = text.strip()
    if not _REPO.fullmatch(text) or any(part in (".", "..") for part in text.split("/")):
        return None
    return text


def folder_of(repo: str, captioners_dir: Path) -> Path:
    return captioners_dir / repo.replace("/", "--")  # a name, checked by `repo_id`


def model_folder(text: str, key: str, captioners_dir: Path,
                 reporter: Reporter | None = None) -> Path:
    """The folder the captioner loads: `text` itself when it is a path on this computer (the
    network is never asked), else the repository it names, downloaded first if need be."""
    text = text.strip()
    if not text:
        raise UserError("name the captioner's model: a folder on this computer, or one of "
                        f"{known_line(key)}, to download once")
    path = Path(text).expanduser()
    if path.exists():
        return path
    repo = repo_id(text)
    if repo is None:
        raise UserError(f"{text}: no such folder, and not a Hugging Face repository name "
                        "(owner/name)")
    folder = folder_of(repo, captioners_dir)
    if not (folder / DONE).is_file():
        download(repo, folder, FILES.get(key, ("*.json", "*.safetensors")),
                 reporter or Reporter())
    return folder


def _size_on_disk(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            total += path.stat().st_size if path.is_file() else 0
        except OSError:  # a file renamed while we looked
            continue
    return total


def remote_size(repo: str, patterns: tuple[str, ...]) -> int:
    """The bytes the download will bring, from the hub's file list."""
    try:
        out = subprocess.run([sys.executable, str(FETCH), "size", repo, *patterns],
                             capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        out = None
    lines = out.stdout.strip().splitlines() if out is not None else []
    if out is None or out.returncode != 0 or not lines or not lines[-1].isdigit():
        why = lines[-1][:160] if lines else "no answer in 2 minutes"
        raise UserError(f"cannot reach {repo} on Hugging Face: download its "
                        f"{' and '.join(patterns)} yourself (its page, Files) into a folder and "
                        f"name that folder here instead. ({why})")
    return int(lines[-1])


def download(repo: str, folder: Path, patterns: tuple[str, ...], reporter: Reporter) -> None:
    """Fetch `repo`'s files matching `patterns` into `folder`, saying the size first; resumable
    (a stopped or failed download goes on where it stopped, next time)."""
    total = remote_size(repo, patterns)
    if total <= 0:
        raise UserError(f"{repo} holds none of the files this captioner reads "
                        f"({', '.join(patterns)})")
    folder.mkdir(parents=True, exist_ok=True)
    reporter.start(max(1, round(total / 2**20)),
                   f"Downloading {repo} ({_size(total)}) into {folder}, once")
    try:
        _fetch(repo, folder, patterns, total, reporter)
    finally:  # every start has its finish (the webui's job state is begun and ended)
        reporter.finish("downloaded" if (folder / DONE).is_file() else "download not finished")


def _fetch(repo: str, folder: Path, patterns: tuple[str, ...], total: int,
           reporter: Reporter) -> None:
    command = [sys.executable, str(FETCH), "fetch", repo, str(folder), *patterns]
    log = folder.parent / f"{folder.name}.download.log"
    with open(log, "w", encoding="utf-8") as handle:
        child = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
        try:
            while child.poll() is None:
                if reporter.should_stop():
                    _interrupt(child)
                    _drop_orphans(folder)
                    raise StopRequested
                done = min(_size_on_disk(folder), total)
                reporter.step(round(done / 2**20), f"{_size(done)} of {_size(total)}")
                time.sleep(POLL_S)
        finally:
            if child.poll() is None:
                child.kill()
    if child.returncode != 0:
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        why = lines[-1][:200] if lines else "no output"
        raise UserError(f"the download of {repo} failed ({why}); press again to resume it, "
                        "or name a local folder")
    write_text_atomic(folder / DONE, repo + "\n")
    log.unlink(missing_ok=True)
    reporter.step(round(total / 2**20), f"downloaded {_size(total)}")


def _interrupt(child: subprocess.Popen) -> None:
    """End the transfer now. (Not Ctrl+C: snapshot_download's worker threads would finish the
    file first.) What it wrote stays on disk for the next try."""
    child.terminate()
    try:
        child.wait(10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(10)


# huggingface_hub 0.x keeps `<etag>.incomplete` and resumes it next time; newer releases
# write `<etag>.<8 hex>.incomplete`, unique to one process and never reused (their PR #4228):
# one left by a killed child is only lost disk space.
_ORPHAN = re.compile(r".*\.[0-9a-f]{8}\.incomplete")


def _drop_orphans(folder: Path) -> None:
    for path in folder.rglob("*.incomplete"):
        if _ORPHAN.fullmatch(path.name):
            path.unlink(missing_ok=True)


def _size(count: int) -> str:
    return f"{count / 2**30:.2f} GB" if count >= 2**30 else f"{count / 2**20:.1f} MB"


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0][:160] if text else type(err).__name__
