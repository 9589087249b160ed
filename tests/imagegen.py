"""Real image files for the dataset tests: photo-like content and every awkward format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from lora_for_dummies.demo import photo  # noqa: F401 — the tests' photo-like images


def save(image: Image.Image, path: Path, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


def awkward_files(folder: Path) -> dict[str, Path]:
    """The formats and shapes users really have, each as a file on disk."""
    files: dict[str, Path] = {}
    files["cmyk"] = save(photo(300, 200, 1).convert("CMYK"), folder / "cmyk.jpg", quality=90)
    grey16 = (np.linspace(0, 65535, 200 * 150).reshape(150, 200)).astype(np.uint16)
    files["png16"] = save(Image.fromarray(grey16, mode="I;16"), folder / "sixteen bit.png")
    palette = photo(120, 120, 2).convert("P", palette=Image.ADAPTIVE, colors=16)
    palette.info["transparency"] = 0
    files["palette"] = save(palette, folder / "palette.png", transparency=0)
    la = Image.new("LA", (100, 80), (128, 0))
    files["la"] = save(la, folder / "grey alpha.png")
    frames = [photo(96, 96, s) for s in range(3)]
    files["gif"] = save(frames[0], folder / "anim.gif", save_all=True, append_images=frames[1:])
    files["webp_anim"] = save(frames[0], folder / "anim.webp", save_all=True,
                              append_images=frames[1:])
    rotated = photo(200, 100, 3)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    files["exif"] = save(rotated, folder / "rotated.jpg", exif=exif.tobytes())
    files["tiny"] = save(photo(1, 1, 4), folder / "one pixel.png")
    files["long"] = save(photo(20000, 100, 5), folder / "very long strip.png")
    files["unicode"] = save(photo(160, 120, 6), folder / ("ünïcödé ✓ name with spaces " + "x" * 120
                                                          + ".jpg"))
    return files
