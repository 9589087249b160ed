"""Small line charts drawn with Pillow: the same picture on gradio 3, 4 and 5, no plotting
library needed in the webui. Plain numbers on the axes (0.0001, not 1.00e-04), the title at
the top left: the images show no label badge, and gradio draws its fullscreen and download
buttons over the top right (they hid the end of the loss chart's title)."""

from __future__ import annotations

from typing import Any

from PIL import Image, ImageDraw

WIDTH, HEIGHT = 560, 220
LEFT, TOP, RIGHT_MARGIN, BOTTOM_MARGIN = 64, 24, 12, 28
RAW, SMOOTHED, MARKER = (245, 190, 150), (220, 95, 10), (90, 140, 230)
TITLE = (40, 40, 40)


def plain(value: float) -> str:
    """A number as people write it: 3 significant digits, no exponent."""
    import numpy as np

    if value == 0:
        return "0"
    return np.format_float_positional(value, precision=3, unique=False, fractional=False,
                                      trim="-")


def tick(value: float, span: float) -> str:
    """An axis label: as many decimals as the chart's range needs, no exponent."""
    import math

    decimals = max(0, 2 - math.floor(math.log10(span))) if span > 0 else 2
    text = f"{value:.{decimals}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("", "-0") else text


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if v == v and abs(v) != float("inf")]


def moving_average(values: list[float], window: int) -> list[float]:
    averaged, total = [], 0.0
    for i, value in enumerate(values):
        total += value - (values[i - window] if i >= window else 0.0)
        averaged.append(total / min(i + 1, window))
    return averaged


def _frame(title: str, low: float, high: float, steps: int) -> tuple[Any, Any, tuple]:
    image = Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = LEFT, TOP, WIDTH - RIGHT_MARGIN, HEIGHT - BOTTOM_MARGIN
    # Pillow's built-in font (no font files needed) only covers Latin-1.
    text = title.encode("latin-1", "replace").decode("latin-1")
    draw.text((left, 6), text, fill=TITLE)
    draw.rectangle([left, top, right, bottom], outline=(200, 200, 200))
    span = (high - low) or abs(high) or 1.0
    for fraction in (0.0, 0.5, 1.0):
        y = bottom - fraction * (bottom - top)
        draw.line([left, y, right, y], fill=(235, 235, 235))
        draw.text((4, y - 6), tick(low + fraction * span, span), fill=(90, 90, 90))
    for fraction in (0.0, 0.5, 1.0):
        x = left + fraction * (right - left)
        label = str(round(fraction * steps))
        draw.text((x - 3 * len(label), bottom + 6), label, fill=(90, 90, 90))
    return image, draw, (left, top, right, bottom, low, span)


def _points(values: list[float], box: tuple, steps: int) -> list[tuple[float, float]]:
    left, top, right, bottom, low, span = box
    count = max(steps, 1)
    return [(left + (i + 1) / count * (right - left) if steps > 1 else left,
             bottom - (v - low) / span * (bottom - top)) for i, v in enumerate(values)]


def _draw(draw: Any, points: list[tuple[float, float]], colour: tuple, width: int) -> None:
    if len(points) == 1:
        x, y = points[0]
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
    elif points:
        draw.line(points, fill=colour, width=width)


def line_chart(values: list[float], title: str, steps: int | None = None) -> Any:
    """One curve over `steps` (default: as many as values), e.g. the learning rate."""
    finite = _finite(values)
    if not finite:
        return _empty(title)
    steps = steps or len(finite)
    image, draw, box = _frame(title, min(finite), max(finite), steps)
    left, top, right, bottom, low, span = box
    count = max(len(finite) - 1, 1)
    _draw(draw, [(left + i / count * (right - left), bottom - (v - low) / span * (bottom - top))
                 for i, v in enumerate(finite)], SMOOTHED, 2)
    return image


def loss_chart(losses: list[float], total_steps: int, sample_steps: list[int],
               window: int = 10) -> Any:
    """Raw loss (light), its moving average (strong) and the steps that made samples (blue
    ticks), over the whole run — so "stop when it looks good" has something to look at."""
    finite = _finite(losses)
    if not finite:
        return _empty("loss")
    steps = max(total_steps, len(finite), 1)
    image, draw, box = _frame(f"loss: thin raw, thick average of {window}, blue ticks: samples",
                              min(finite), max(finite), steps)
    left, top, right, bottom, _, _ = box
    for step in sample_steps:
        if 0 < step <= steps:
            x = left + step / steps * (right - left)
            draw.line([x, bottom - 8, x, bottom], fill=MARKER, width=2)
    _draw(draw, _points(finite, box, steps), RAW, 1)
    _draw(draw, _points(moving_average(finite, window), box, steps), SMOOTHED, 2)
    return image


def _empty(title: str) -> Any:
    image, draw, box = _frame(title, 0.0, 1.0, 0)
    draw.text((box[0] + 10, box[1] + 10), "no data yet", fill=(120, 120, 120))
    return image
