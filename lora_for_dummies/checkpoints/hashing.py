"""The hashes the webui shows for a model, so users recognise theirs.

* `sha256` of the whole file; its first 10 hex digits are the webui's "short hash" (as in
  `[abcdef1234]` in the checkpoint dropdown and `Model hash` in the infotext).
* The legacy hash: sha256 of 64 KiB read at offset 1 MiB, first 8 hex digits (webui < 1.0).

Hashing a multi-GB file takes seconds, so results are cached by path, size and mtime.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from lora_for_dummies.atomic import write_text_atomic
from lora_for_dummies.errors import UserError

_CHUNK = 1024 * 1024


def default_cache_file() -> Path:
    root = os.environ.get("LFD_CACHE_DIR") or Path.home() / ".cache" / "lora_for_dummies"
    return Path(root) / "hashes.json"


def legacy_hash(path: str | Path) -> str:
    with open(path, "rb") as handle:
        handle.seek(0x100000)
        return hashlib.sha256(handle.read(0x10000)).hexdigest()[:8]


def sha256_file(path: str | Path, cache_file: Path | None = None) -> str:
    path = Path(path).resolve()
    stat = path.stat()
    cache_file = cache_file or default_cache_file()
    cache_key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    cache = _read_cache(cache_file)
    if cache_key in cache:
        return cache[cache_key]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    value = digest.hexdigest()
    cache[cache_key] = value
    try:
        write_text_atomic(cache_file, json.dumps(cache, indent=0))
    except (OSError, UserError):
        pass  # a read-only home folder (said as a UserError by atomic_path) must not stop it
    return value


def short_hash(sha256: str) -> str:
    return sha256[:10]


def _read_cache(cache_file: Path) -> dict[str, str]:
    try:
        data = json.loads(cache_file.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}
