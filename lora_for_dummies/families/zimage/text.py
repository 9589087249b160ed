"""Z-Image's text conditioning: Qwen3-4B's second-to-last hidden states of the caption in
Qwen3's chat form, as diffusers' ZImagePipeline `_encode_prompt` computes them (diffusers 0.37.1
/ 0.42.1, `pipelines/z_image/pipeline_z_image.py`): the caption as one user message with the
assistant's turn opened (`apply_chat_template(…, add_generation_prompt=True,
enable_thinking=True)`, which renders `TEMPLATE`), padded to 512 tokens, encoded with the
attention mask, and only the caption's own tokens kept.

The loop caches one row per caption, so a row here is the token ids followed by the mask
(`tokenize`), and the conditioning is (hidden states padded to 512, the mask): the objective
and the sampler keep each caption's unmasked rows (`caption_features`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from lora_for_dummies import messages as msg

TOKENS = 512  # diffusers' and musubi-tuner's max_sequence_length for Z-Image
# What Qwen3's chat template renders for one user message with the generation prompt and
# thinking enabled (enable_thinking=False would add an empty <think></think> block)
TEMPLATE = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"
HIDDEN_LAYER = -2  # the second-to-last hidden states


@lru_cache(maxsize=2)
def qwen_tokenizer(folder: str) -> Any:
    """transformers' fast tokenizer from `folder`'s tokenizer.json (read once per folder)."""
    from transformers import PreTrainedTokenizerFast

    if not folder:  # Path("") would be the current folder
        raise msg.ZIMAGE_TOKENIZER.error(why="none beside the model")
    if not (Path(folder) / "tokenizer.json").is_file():
        raise msg.ZIMAGE_TOKENIZER.error(why=f"{folder} has no tokenizer.json")
    return PreTrainedTokenizerFast.from_pretrained(folder)


def tokenize(captions: list[str], folder: str, length: int = TOKENS) -> Any:
    """(B, 2·length): each caption's ids in the chat form, then its attention mask."""
    import torch

    tokenizer = qwen_tokenizer(folder)
    out = tokenizer([TEMPLATE.format(c) for c in captions], padding="max_length",
                    max_length=length, truncation=True, return_tensors="pt")
    return torch.cat([out["input_ids"], out["attention_mask"].to(out["input_ids"].dtype)], 1)


def encode(encoder: Any, tokens: Any) -> tuple[Any, Any]:
    """(hidden states (B, L, width), the mask (B, L) bool) of `tokenize`'s rows."""
    length = tokens.shape[1] // 2
    device = next(encoder.parameters()).device
    ids, mask = tokens[:, :length].to(device), tokens[:, length:].to(device).bool()
    hidden = encoder(input_ids=ids, attention_mask=mask,
                     output_hidden_states=True).hidden_states[HIDDEN_LAYER]
    return hidden, mask


def caption_features(hidden: Any, mask: Any, device: Any, dtype: Any) -> list[Any]:
    """The transformer's `cap_feats`: each caption's own tokens' states, (L_i, width)."""
    mask = mask.to(hidden.device).bool()
    return [hidden[i][mask[i]].to(device, dtype) for i in range(hidden.shape[0])]
