"""Small line charts drawn with Pillow: the same picture on gradio 3, 4 and 5, no plotting
library needed in the webui."""

from __future__ import annotations

from typing import Any

from PIL import Image, ImageDraw


def line_chart(values: list[float], title: str, width: int = 560, height: int = 220,
               colour: tuple[int, int, int] = (230, 110, 20), smooth: int = 0) -> Any:
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = 56, 24, width - 12, height - 28
    # Pillow's built-in font (no font files needed) only covers Latin-1.
    draw.text((left, 4), title.encode("latin-1", "replace").decode("latin-1"), fill=(40, 40, 40))
    draw.rectangle([left, top, right, bottom], outline=(200, 200, 200))
    finite = [v for v in values if v == v and abs(v) != float("inf")]
    if len(finite) < 1:
        draw.text((left + 10, top + 10), "no data yet", fill=(120, 120, 120))
        return image
    if smooth > 1:
        averaged, total = [], 0.0
        for i, value in enumerate(finite):
            total += value - (finite[i - smooth] if i >= smooth else 0.0)
            averaged.append(total / min(i + 1, smooth))
        finite = averaged
    low, high = min(finite), max(finite)
    span = (high - low) or abs(high) or 1.0
    for fraction in (0.0, 0.5, 1.0):
        y = bottom - fraction * (bottom - top)
        draw.line([left, y, right, y], fill=(235, 235, 235))
        draw.text((4, y - 6), f"{low + fraction * span:.2e}", fill=(90, 90, 90))
    draw.text((left, bottom + 6), "0", fill=(90, 90, 90))
    draw.text((right - 40, bottom + 6), str(len(finite)), fill=(90, 90, 90))
    count = max(len(finite) - 1, 1)
    points = [(left + i / count * (right - left), bottom - (v - low) / span * (bottom - top))
              for i, v in enumerate(finite)]
    if len(points) == 1:
        x, y = points[0]
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
    else:
        draw.line(points, fill=colour, width=2)
    return image
