"""Z-Image (Tongyi-MAI): the family plug-in (`family.py`) and the file facts it rests on — the
architecture's names and shapes (`architecture.py`), recognition (`layout.py`), LoRA names and
the native ⇄ diffusers map (`keys.py`), the loaders' rules (`consumers.py`), LoRA files
(`lora_file.py`), extraction (`extract.py`) and tiny random files (`synthetic.py`)."""

from lora_for_dummies.families.zimage.family import FAMILY

__all__ = ["FAMILY"]
