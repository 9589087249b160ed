"""DoRA: a LoRA module plus `dora_scale`, the magnitude the webuis renormalise the changed
weight to (A1111 1.10 `network.py` `apply_weight_decompose`, on the input axis)."""

from lora_for_dummies.lora.kinds import LoraKind, Shapes


def _rank(shapes: Shapes) -> int:
    return int(shapes["lora_down.weight"][0])


KIND = LoraKind("dora", "DoRA", ("dora_scale",), _rank,
                needs=("lora_down.weight", "lora_up.weight"),
                what="a LoRA whose changed weight is rescaled to a learned magnitude")
