"""LoHa (LyCORIS): delta = (w1_a · w1_b) ⊙ (w2_a · w2_b) · alpha / rank, rank = w1_b's rows
(A1111 1.10 `network_hada.py`); `hada_t1` / `hada_t2` for Tucker-factored convolutions."""

from lora_for_dummies.lora.kinds import LoraKind, Shapes


def _rank(shapes: Shapes) -> int:
    return int(shapes["hada_w1_b"][0])


KIND = LoraKind("loha", "LoHa", ("hada_w1_a",), _rank,
                needs=("hada_w1_b", "hada_w2_a", "hada_w2_b"),
                what="Hadamard product of two low-rank pairs: more detail per byte")
