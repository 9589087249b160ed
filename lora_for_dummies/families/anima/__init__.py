"""Anima (CircleStone Labs with Comfy Org): the family plug-in (`family.py`) and the file facts
it rests on — the DiT's names and shapes (`architecture.py`), recognition (`layout.py`), LoRA
names (`keys.py`), extraction (`extract.py`) and tiny random files (`synthetic.py`); its
loaders' rule is ComfyUI's generic one (`lora/comfy_unet.py`)."""

from lora_for_dummies.families.anima.family import FAMILY

__all__ = ["FAMILY"]
