"""LoKr (LyCORIS): delta = w1 ⊗ w2 (Kronecker), each factor whole (`lokr_w1`) or low-rank
(`lokr_w1_a` · `lokr_w1_b`); scale alpha / rank only when a factor is low-rank, rank = that
factor's inner size (A1111 1.10 `network_lokr.py`); `lokr_t2` for a Tucker-factored conv."""

from lora_for_dummies.lora.kinds import LoraKind, Shapes


def _rank(shapes: Shapes) -> int | None:
    for low in ("lokr_w1_b", "lokr_w2_b"):
        if low in shapes:
            return int(shapes[low][0])
    return None  # both factors whole: no rank, scale 1


KIND = LoraKind("lokr", "LoKr", ("lokr_w1", "lokr_w1_a"), _rank,
                what="Kronecker product of two small factors: the smallest files, for styles")
