"""Charts people can read: plain numbers, the loss raw and averaged, samples marked."""

from __future__ import annotations

import numpy as np

from lora_for_dummies.ui.charts import (
    MARKER,
    RAW,
    SMOOTHED,
    TITLE,
    line_chart,
    loss_chart,
    plain,
    tick,
)


def _has(image, colour) -> bool:
    pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    return bool((pixels == np.array(colour)).all(axis=1).any())


def test_plain_numbers():
    assert [plain(v) for v in (0.0001, 5e-05, 0.9318, 12.5, 1234.0, 0)] == \
        ["0.0001", "0.00005", "0.932", "12.5", "1230", "0"]
    # axis ticks: the decimals the range needs (an LR curve from 1e-4 to ~0)
    assert [tick(v, 1e-4) for v in (1e-4, 5e-5, 2.72e-8)] == ["0.0001", "0.00005", "0"]
    assert [tick(v, 0.19) for v in (0.22, 0.1255, 0.0319)] == ["0.22", "0.126", "0.032"]


def test_loss_chart_shows_raw_average_and_sample_steps():
    losses = [1.0 / (1 + i) + (0.2 if i % 2 else 0.0) for i in range(40)]
    image = loss_chart(losses, total_steps=100, sample_steps=[10, 20, 30])
    assert image.size == (560, 220)
    assert _has(image, RAW) and _has(image, SMOOTHED) and _has(image, MARKER)
    # The run is 100 steps: 40 losses reach only part of the way across.
    right_part = np.asarray(image)[30:190, 400:540]
    assert not (right_part.reshape(-1, 3) == np.array(SMOOTHED)).all(axis=1).any()
    assert not _has(loss_chart(losses, 100, []), MARKER)
    assert _has(line_chart([1e-4] * 5 + [5e-5] * 5, "lr"), SMOOTHED)


def test_the_title_stays_clear_of_gradios_image_buttons():
    """Issue 23: gradio draws fullscreen / download buttons over an image's top right, which hid
    the end of the loss chart's title. The title starts at the top left and ends well before."""
    image = loss_chart([1.0, 0.9, 0.8], total_steps=100, sample_steps=[1])
    band = np.asarray(image.convert("RGB"))[2:16].astype(int)  # the title's row, above the axis
    title = np.abs(band - np.array(TITLE)).sum(axis=2) < 150  # text, antialiased or not
    columns = np.nonzero(title.any(axis=0))[0]
    assert columns.size and columns.min() < 80, "no title at the top left"
    assert columns.max() < image.size[0] - 120, f"title reaches x={columns.max()}"
