"""Where to cut: center, focal point (found from the image itself), aspect-ratio buckets, tiles.

All functions work on sizes and boxes; the pixels are touched once, in process.py.
"""

from __future__ import annotations

import math

from PIL import Image, ImageFilter

Box = tuple[int, int, int, int]  # left, top, right, bottom


def bucket_size(width: int, height: int, resolution: int, step: int = 64,
                max_ratio: float = 2.0) -> tuple[int, int]:
    """The bucket (multiples of `step`, area ≤ resolution²) whose aspect is nearest the image's.

    Matches what kohya-style trainers do: the image is then scaled to cover the bucket and the
    small remainder is cropped from the centre.
    """
    aspect = min(max(width / height, 1 / max_ratio), max_ratio)
    area = resolution * resolution
    best: tuple[float, int, int] = (math.inf, resolution, resolution)
    for bucket_w in range(step, int(resolution * math.sqrt(max_ratio)) + step, step):
        bucket_h = (area // bucket_w) // step * step
        if bucket_h < step:
            continue
        ratio = bucket_w / bucket_h
        if 1 / max_ratio - 1e-6 <= ratio <= max_ratio + 1e-6:
            error = abs(math.log(ratio / aspect))
            if error < best[0] - 1e-9 or (abs(error - best[0]) < 1e-9 and
                                          bucket_w * bucket_h > best[1] * best[2]):
                best = (error, bucket_w, bucket_h)
    return best[1], best[2]


def focal_point(image: Image.Image) -> tuple[float, float]:
    """A point of interest (x, y in 0..1): where edges and colourful detail concentrate.

    Saliency = edge strength (FIND_EDGES on a small grey copy) + colour saturation; the point is
    the weighted centroid of the strongest 10 %, so flat backgrounds do not pull it away.
    """
    import numpy as np

    small = image.copy()
    small.thumbnail((128, 128))
    grey = np.asarray(small.convert("L").filter(ImageFilter.FIND_EDGES), dtype=np.float32)
    saturation = np.asarray(small.convert("HSV"), dtype=np.float32)[..., 1]
    saliency = grey / (grey.max() + 1e-6) + 0.5 * saturation / (saturation.max() + 1e-6)
    saliency[[0, -1], :] = 0  # FIND_EDGES marks the border
    saliency[:, [0, -1]] = 0
    threshold = np.quantile(saliency, 0.9)
    weights = np.where(saliency >= threshold, saliency, 0)
    total = weights.sum()
    if total <= 0:
        return 0.5, 0.5
    ys, xs = np.indices(weights.shape)
    return float((xs * weights).sum() / total / weights.shape[1]), \
        float((ys * weights).sum() / total / weights.shape[0])


def crop_box(size: tuple[int, int], aspect: float, center: tuple[float, float] = (0.5, 0.5)
             ) -> Box:
    """The largest box of `aspect` (w/h) inside `size`, centred on `center` where it fits."""
    width, height = size
    if width / height > aspect:
        box_w, box_h = round(height * aspect), height
    else:
        box_w, box_h = width, round(width / aspect)
    left = min(max(round(center[0] * width - box_w / 2), 0), width - box_w)
    top = min(max(round(center[1] * height - box_h / 2), 0), height - box_h)
    return left, top, left + box_w, top + box_h


def tile_boxes(size: tuple[int, int], max_ratio: float, overlap: float = 0.25) -> list[Box]:
    """Split a very tall or wide image into overlapping squares along its long side.

    Returns [] when the image's aspect ratio is within `max_ratio`.
    """
    width, height = size
    long_side, short_side = max(size), min(size)
    if long_side / short_side <= max_ratio:
        return []
    stride = short_side * (1 - overlap)
    count = math.ceil((long_side - short_side) / stride) + 1
    starts = [round(i * (long_side - short_side) / (count - 1)) for i in range(count)]
    if width >= height:
        return [(s, 0, s + short_side, height) for s in starts]
    return [(0, s, width, s + short_side) for s in starts]
