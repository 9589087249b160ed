"""Flux.1 (dev, schnell, Krea, Kontext) and Chroma: the family plug-in (`family.py`) and the
file facts it rests on — layout and recognition (`architecture.py`, `layout.py`), names and the
BFL ⇄ diffusers map (`keys.py`), the loaders' rules (`consumers.py`), LoRA metadata
(`lora_file.py`), parts (`parts.py`), text (`text.py`), objective, sampler and network."""

from lora_for_dummies.families.flux.family import FAMILY

__all__ = ["FAMILY"]
