"""LoRA (`lora_down.weight`, `lora_up.weight`, `alpha`): delta = up · down · alpha / rank. A
module whose down is a k×k convolution (k > 1) is what people call LoCon."""

from lora_for_dummies.lora.kinds import LoraKind, Shapes


def _rank(shapes: Shapes) -> int:
    return int(shapes["lora_down.weight"][0])


def _label(shapes: Shapes) -> str:
    down = shapes["lora_down.weight"]
    return "LoCon" if len(down) == 4 and down[-1] > 1 else "LoRA"


class _Lora(LoraKind):
    def label_for(self, shapes: Shapes) -> str:
        return _label(shapes)


KIND = _Lora("lora", "LoRA", ("lora_down.weight",), _rank, needs=("lora_up.weight",),
             what="low-rank: up · down · alpha / rank (LoCon: also 3×3 convolutions)")
