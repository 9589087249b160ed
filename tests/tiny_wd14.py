"""A tiny WD14 v3 tagger built with the `onnx` package: the real files (`model.onnx`,
`selected_tags.csv`), the real signature (`[N, 448, 448, 3]` float32 in, `[N, K]`
probabilities out), and tags that answer to colour, so thresholds, the rating filter, the
character split and the BGR channel order are exercised through onnxruntime for real.

The graph: each channel's mean over the image (÷ 255), times a weight matrix, plus a bias,
through a sigmoid. The input is BGR, so feature 0 is blue and feature 2 red.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

SIZE = 448
# (name, category, (blue, green, red) weights, bias): category 9 rating, 0 general, 4 character,
# in the order SmilingWolf's csv has them (ratings first).
TAGS = [
    ("general", "9", (0, 0, 0), 2.0),
    ("sensitive", "9", (0, 0, 0), 0.0),
    ("questionable", "9", (0, 0, 0), -2.0),
    ("explicit", "9", (0, 0, 0), -4.0),
    ("1girl", "0", (0, 0, 0), 3.0),  # p 0.95 on every image
    ("red_hair", "0", (-6, -6, 12), -3.0),  # red images only
    ("blue_sky", "0", (12, -6, -6), -3.0),  # blue images only
    ("simple_background", "0", (0, 0, 0), 0.0),  # p 0.5: above 0.35, below 0.6
    ("^_^", "0", (0, 0, 0), 1.0),  # an emoticon: its underscore stays
    ("hat_(object)", "0", (0, 0, 0), 0.5),  # parentheses, p 0.62
    ("hatsune_miku", "4", (0, 10, -10), -2.0),  # green images, p 0.9997
    ("some_character", "4", (0, 0, 0), 1.0),  # p 0.73: below the 0.85 default
]


def probability(name: str, bgr: tuple[float, float, float]) -> float:
    """What the graph gives `name` for an image whose channel means are `bgr` (0–255)."""
    _, _, weights, bias = next(t for t in TAGS if t[0] == name)
    logit = sum(w * c / 255 for w, c in zip(weights, bgr, strict=True)) + bias
    return 1 / (1 + math.exp(-logit))


def write_tiny_wd14(folder: Path, size: int = SIZE) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    folder.mkdir(parents=True, exist_ok=True)
    weights = np.array([t[2] for t in TAGS], dtype=np.float32).T  # [3, K]
    bias = np.array([t[3] for t in TAGS], dtype=np.float32)
    nodes = [
        helper.make_node("ReduceMean", ["input_1"], ["mean"], axes=[1, 2], keepdims=0),
        helper.make_node("Mul", ["mean", "scale"], ["features"]),
        helper.make_node("MatMul", ["features", "weights"], ["logits_no_bias"]),
        helper.make_node("Add", ["logits_no_bias", "bias"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["predictions_sigmoid"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_wd14",
        [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, ["batch", size, size, 3])],
        [helper.make_tensor_value_info("predictions_sigmoid", TensorProto.FLOAT,
                                       ["batch", len(TAGS)])],
        [numpy_helper.from_array(np.array([1 / 255], dtype=np.float32), "scale"),
         numpy_helper.from_array(weights, "weights"), numpy_helper.from_array(bias, "bias")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # what onnxruntime 1.17+ reads, whichever onnx wrote it
    onnx.checker.check_model(model)
    onnx.save(model, str(folder / "model.onnx"))
    with open(folder / "selected_tags.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tag_id", "name", "category", "count"])
        for number, (name, category, _, _) in enumerate(TAGS):
            writer.writerow([9000 + number, name, category, 1000 - number])
    return folder
