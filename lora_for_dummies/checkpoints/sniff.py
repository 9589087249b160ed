"""What a file is, from its first bytes — not from its name.

A user who passes `photo.jpg` (or a `.ckpt` that is really a zip of something else, or an HTML
error page saved by a browser as `model.safetensors`) must hear what the file is in one line,
instead of a pickle error from deep inside torch.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

# kind: safetensors | zip-checkpoint | pickle-checkpoint | image | other
_IMAGES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"),
           (b"GIF89a", "GIF"), (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))
_OTHER = ((b"%PDF", "a PDF document"), (b"\x1f\x8b", "a gzip archive"),
          (b"7z\xbc\xaf", "a 7-Zip archive"), (b"Rar!", "a RAR archive"),
          (b"<!DOCTYPE", "a web page (HTML), not a download"),
          (b"<html", "a web page (HTML), not a download"),
          (b"version https://git-lfs", "a Git LFS pointer, not the file itself (git lfs pull)"),
          (b"GGUF", "a GGUF file (quantized weights), which is not supported yet: use the bf16 / "
                    "fp8 .safetensors file"))


@dataclass(frozen=True)
class FileKind:
    kind: str
    description: str
    # False: the bytes matched nothing we know (perhaps a truncated model): the reader of the
    # format the name suggests gives the more precise reason.
    recognised: bool = True

    @property
    def is_model(self) -> bool:
        return self.kind in ("safetensors", "zip-checkpoint", "pickle-checkpoint")


def _zip_is_torch(path: Path) -> bool:
    """torch.save's zip files hold `<name>/data.pkl`; other zips (datasets, LoRA packs) do not."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("data.pkl") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def sniff(path: str | Path) -> FileKind:
    """Identify a file by its first bytes. Never raises for a readable file."""
    path = Path(path)
    with open(path, "rb") as handle:
        head = handle.read(64)
    if len(head) >= 9:
        (header_len,) = struct.unpack("<Q", head[:8])
        if 2 <= header_len <= path.stat().st_size - 8 and head[8:9] == b"{":
            return FileKind("safetensors", "a safetensors file (tensors only)")
    if head.startswith(b"PK\x03\x04"):
        if _zip_is_torch(path):
            return FileKind("zip-checkpoint", "a PyTorch checkpoint (zip of pickled tensors)")
        return FileKind("other", "a zip archive that is not a PyTorch checkpoint (unpack it)")
    # Pickle protocol 2-5 starts with PROTO (0x80) and the protocol number.
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return FileKind("pickle-checkpoint", "a PyTorch checkpoint (legacy pickle format)")
    for magic, name in _IMAGES:
        if head.startswith(magic):
            return FileKind("image", f"a {name} image, not a model")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileKind("image", "a WebP image, not a model")
    stripped = head.lstrip()
    for magic, what in _OTHER:
        if stripped[:len(magic)].lower() == magic.lower():
            return FileKind("other", what)
    if stripped[:1] in (b"{", b"[") and path.stat().st_size < 10 * 1024 * 1024:
        try:
            json.loads(path.read_text(encoding="utf-8"))
            return FileKind("other", "a JSON text file, not a model")
        except (UnicodeDecodeError, ValueError):
            pass
    return FileKind("other", "not a model file (neither safetensors nor a PyTorch checkpoint)",
                    recognised=False)
