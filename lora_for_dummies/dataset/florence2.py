"""Florence-2 prose captions (`florence-community/Florence-2-base` / `-large`), native in
transformers since 4.56 (`Florence2ForConditionalGeneration`, no `trust_remote_code`): the
sentences Flux, Chroma and photo models read.

The model and its processor come from a local folder the user names (a copy of the repository);
nothing is downloaded. It runs on the GPU in fp16 where there is one, else on the CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lora_for_dummies.errors import UserError

TASK = "<MORE_DETAILED_CAPTION>"  # a paragraph; <CAPTION> is one short line
NEEDS = "4.56"
REPOSITORIES = ("florence-community/Florence-2-large", "florence-community/Florence-2-base")


def florence2_missing() -> str:
    """Why Florence-2 cannot run here ("" when it can): the host's transformers predates it."""
    import transformers

    if hasattr(transformers, "Florence2ForConditionalGeneration"):
        return ""
    return (f"Florence-2 needs transformers {NEEDS} or newer; this host has "
            f"{transformers.__version__}, which the host pins (Forge Neo and current "
            "installs have it): use the WD14 tagger or BLIP here")


class Florence2Captioner:
    """A Florence-2 model from a local folder, loaded once for the whole caption run."""

    name = "Florence-2"
    batch_size = 4

    def __init__(self, folder: str | Path, max_tokens: int = 256) -> None:
        missing = florence2_missing()
        if missing:
            raise UserError(missing)
        folder = Path(folder) if str(folder).strip() else Path()
        if not str(folder).strip() or not (folder / "config.json").is_file():
            raise UserError(f"no Florence-2 model in {folder.name or 'that box'} (no "
                            "config.json): name a folder holding a copy of "
                            f"{REPOSITORIES[0]}, or type that repository to download it")
        import torch
        from transformers import Florence2ForConditionalGeneration, Florence2Processor

        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.float16 if self.device == "cuda" else torch.float32
        try:
            self.processor = Florence2Processor.from_pretrained(str(folder),
                                                                local_files_only=True)
            self.model = Florence2ForConditionalGeneration.from_pretrained(
                str(folder), local_files_only=True, dtype=dtype).to(self.device).eval()
        except (OSError, ValueError, TypeError, KeyError) as err:
            raise UserError(f"{folder.name}: not a Florence-2 model ({str(err)[:120]})"
                            ) from None
        # Never past the decoder's positions (1024 in the released models).
        positions = self.model.config.text_config.max_position_embeddings
        self.dtype, self.max_tokens = dtype, min(max_tokens, positions - 2)

    def caption_batch(self, images: list[Any]) -> list[str]:
        import torch

        rgb = [image.convert("RGB") for image in images]
        inputs = self.processor(text=[TASK] * len(rgb), images=rgb, return_tensors="pt")
        inputs = {k: v.to(self.device, self.dtype) if v.is_floating_point() else
                  v.to(self.device) for k, v in inputs.items()}
        with torch.no_grad():
            out = self.model.generate(**inputs, max_new_tokens=self.max_tokens, num_beams=3,
                                      do_sample=False)
        texts = self.processor.batch_decode(out, skip_special_tokens=True)
        return [" ".join(text.split()) for text in texts]

    def caption(self, image: Any) -> str:
        return self.caption_batch([image])[0]

    def close(self) -> None:
        self.model = None
