"""Full difference (`diff`, `diff_b` for the bias): the change itself, scale 1 (A1111 1.10
`network_full.py`)."""

from lora_for_dummies.lora.kinds import LoraKind, Shapes


def _rank(shapes: Shapes) -> None:
    return None


KIND = LoraKind("full", "full", ("diff",), _rank,
                what="the whole weight change, stored as it is: the largest files")
