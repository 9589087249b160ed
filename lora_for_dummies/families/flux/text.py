"""Flux's text conditioning: CLIP-L's pooled embedding (77 tokens) and T5-XXL's hidden states
(512 tokens for dev / Krea / Chroma, 256 for schnell), as diffusers' FluxPipeline
`encode_prompt` computes them: padded to the full length, no attention mask, and clip skip
does not apply.

T5's tokenizer is not bundled: it is read from a folder holding `tokenizer.json` (or
`spiece.model`) — Forge keeps one at backend/huggingface/black-forest-labs/FLUX.1-dev/
tokenizer_2, a diffusers model folder has one in tokenizer_2/, and the Flux demo writes its own.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from lora_for_dummies import messages as msg

CLIP_TOKENS = 77


@lru_cache(maxsize=2)
def t5_tokenizer(folder: str) -> Any:
    """transformers' fast T5 tokenizer from `folder` (read once per folder)."""
    from transformers import PreTrainedTokenizerFast, T5TokenizerFast

    if not folder:  # Path("") would be the current folder
        raise msg.FLUX_T5_TOKENIZER.error(why="none beside the model or in Forge's tree")
    path = Path(folder)
    if (path / "tokenizer.json").is_file():
        return PreTrainedTokenizerFast.from_pretrained(str(path))
    if (path / "spiece.model").is_file():
        try:
            return T5TokenizerFast.from_pretrained(str(path))
        except (ImportError, ValueError) as error:  # converting needs sentencepiece
            raise msg.FLUX_T5_TOKENIZER.error(why=f"reading spiece.model failed: {error}") \
                from None
    raise msg.FLUX_T5_TOKENIZER.error(why=f"{path} has neither")


def tokenize(captions: list[str], t5_folder: str, t5_tokens: int) -> dict[str, Any]:
    """{"clip": (B, 77) ids, "t5": (B, t5_tokens) ids}, truncated and padded to full length."""
    from lora_for_dummies.tokenizer import clip_tokenizer

    clip = clip_tokenizer()(captions, padding="max_length", max_length=CLIP_TOKENS,
                            truncation=True, return_tensors="pt")["input_ids"]
    t5 = t5_tokenizer(t5_folder)(captions, padding="max_length", max_length=t5_tokens,
                                 truncation=True, return_tensors="pt")["input_ids"]
    return {"clip": clip, "t5": t5}


def encode(encoders: list[Any], tokens: dict[str, Any]) -> tuple[Any, Any]:
    """(T5 hidden states (B, L, 4096), CLIP-L pooled (B, 768)); `encoders` = [CLIP-L, T5] (a
    model without a CLIP-L — Chroma — gives None for the pooled embedding)."""
    clip, t5 = encoders
    device = next(t5.parameters()).device
    hidden = t5(tokens["t5"].to(device), output_hidden_states=False).last_hidden_state
    pooled = None
    if clip is not None:
        clip_device = next(clip.parameters()).device
        pooled = clip(tokens["clip"].to(clip_device), output_hidden_states=False).pooler_output
    return hidden, pooled
