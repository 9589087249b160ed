"""Open any image a user has and turn it into plain 8-bit sRGB, reporting what was changed.

EXIF orientation is applied; CMYK, 16-bit, palette-with-transparency, LA and friends are
normalised; transparency is flattened onto a chosen background; colour profiles are converted to
sRGB; animated files use their first frame. JPEGs are decoded at reduced size (DCT scaling) when
the target is much smaller, which is most of the speed of processing.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from lora_for_dummies.errors import UserError


class ImageError(UserError):
    """An image that cannot be used; the message names the file and the reason."""


@dataclass
class LoadedImage:
    image: Image.Image  # RGB, 8-bit, EXIF-rotated, sRGB
    original_size: tuple[int, int]  # after EXIF rotation, before any reduced decode
    notes: list[str] = field(default_factory=list)


def _to_srgb(image: Image.Image, notes: list[str]) -> Image.Image:
    icc = image.info.get("icc_profile")
    if not icc:
        return image
    try:
        from PIL import ImageCms

        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = ImageCms.getProfileDescription(source).strip()
        if "srgb" in description.lower():
            return image
        mode = "RGBA" if image.mode in ("RGBA", "LA", "PA") else "RGB"
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"),
                                              outputMode=mode)
        notes.append(f"colour profile '{description}' converted to sRGB")
        return converted or image
    except Exception as err:  # a broken profile must not lose the image
        notes.append(f"colour profile ignored ({str(err)[:60]})")
        return image


def _to_8bit(image: Image.Image, notes: list[str]) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        import numpy as np

        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        notes.append(f"{image.mode} image converted to 8-bit")
        return Image.fromarray(np.clip(array / top * 255.0 + 0.5, 0, 255).astype("uint8"), "L")
    return image


def flatten(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """RGB image; transparency is composited onto `background`."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("LA", "PA", "La"):
        image = image.convert("RGBA")
    if image.mode == "RGBa":
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        base = Image.new("RGB", image.size, background)
        base.paste(image, mask=image.getchannel("A"))
        return base
    return image.convert("RGB") if image.mode != "RGB" else image


def _too_large(path: Path) -> ImageError:
    return ImageError(f"{path.name}: too large to open safely (over Pillow's "
                      f"{Image.MAX_IMAGE_PIXELS // 1_000_000} MP limit)")


def image_problem(path: Path) -> str:
    """Why `path` cannot be opened as an image, "" if it can: the one opening rule of import
    and processing (empty files, Pillow's decompression-bomb limit, undecodable headers)."""
    try:
        open_image(Path(path)).close()
    except ImageError as err:
        return str(err).split(": ", 1)[-1]
    return ""


def open_image(path: Path) -> Any:
    """`Image.open` (the header only) under the rules every reader shares; ImageError names the
    file and the reason. A picture past Pillow's pixel limit is refused, not decoded: a
    30000×30000 PNG of 133 KB would take 2.7 GB to decode."""
    from PIL import UnidentifiedImageError

    try:
        if path.stat().st_size == 0:
            raise ImageError(f"{path.name}: empty file (an upload that had not finished? drop "
                             "it again)")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(path) from None
    except FileNotFoundError:
        raise ImageError(f"{path.name}: file not found") from None
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise ImageError(f"{path.name}: not a readable image ({type(err).__name__})") from None


def load_image(path: Path, min_side: int | None = None,
               background: tuple[int, int, int] = (255, 255, 255)) -> LoadedImage:
    """Open `path` as 8-bit sRGB RGB. With `min_side`, a JPEG may be decoded at reduced size
    as long as its shorter side stays ≥ `min_side`. Raises ImageError with the reason."""
    path = Path(path)
    notes: list[str] = []
    image: Any = open_image(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            frames = getattr(image, "n_frames", 1)
            if frames > 1:
                notes.append(f"animated ({frames} frames): the first frame is used")
                image.seek(0)
            original = image.size
            if image.format == "JPEG" and min_side and image.mode in ("RGB", "L", "CMYK"):
                short = min(image.size)
                if short >= 2 * min_side:
                    scale = min_side / short
                    image.draft(image.mode, (math.ceil(image.size[0] * scale),
                                             math.ceil(image.size[1] * scale)))
            orientation = image.getexif().get(0x0112, 1) if hasattr(image, "getexif") else 1
            image.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(path) from None  # a frame or a draft larger than the header said
    except OSError as err:
        raise ImageError(f"{path.name}: cannot be decoded ({str(err)[:100]})") from None
    except Exception as err:  # Pillow raises various types for damaged files
        raise ImageError(f"{path.name}: cannot be decoded ({type(err).__name__}: "
                         f"{str(err)[:100]})") from None
    if orientation and orientation != 1:
        image = ImageOps.exif_transpose(image)
        notes.append("rotated as its EXIF orientation says")
        if orientation in (5, 6, 7, 8):
            original = (original[1], original[0])
    image = _to_8bit(image, notes)
    if image.mode == "CMYK":
        notes.append("CMYK converted to RGB")
    image = _to_srgb(image, notes)
    if image.mode not in ("RGB",):
        if image.mode in ("RGBA", "LA", "PA", "RGBa") or "transparency" in image.info:
            notes.append("transparency flattened onto the background colour")
        image = flatten(image, background)
    return LoadedImage(image, original, notes)
