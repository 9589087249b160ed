"""The CLIP tokenizer, bundled (derived from CLIP's own BPE vocabulary), so nothing is fetched.

SD1, SD2 and both SDXL encoders share this vocabulary; they differ only in the padding token,
which does not change token counts.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from lora_for_dummies.families import ASSETS

TOKENIZER_DIR = ASSETS / "tokenizer"
CHUNK_TOKENS = 75  # 77 positions minus BOS and EOS; the webui extends prompts in chunks of 75


@lru_cache(maxsize=2)
def clip_tokenizer(pad_token: str = "<|endoftext|>") -> Any:
    """A transformers CLIPTokenizer from the bundled files (pad "!" for SDXL's second encoder)."""
    from transformers import CLIPTokenizer

    return CLIPTokenizer(str(TOKENIZER_DIR / "vocab.json"), str(TOKENIZER_DIR / "merges.txt"),
                         pad_token=pad_token, model_max_length=77)


def token_ids(text: str) -> list[int]:
    """Token ids of `text` without BOS/EOS and without truncation.

    Longer than 77 is expected here (we count, and split into 75-token chunks ourselves), so
    transformers' "(80 > 77) … indexing errors" warning is turned off for this call only.
    """
    return clip_tokenizer()(text, add_special_tokens=False, truncation=False,
                            verbose=False)["input_ids"]


def count_tokens(text: str) -> int:
    return len(token_ids(text))


def token_report(text: str) -> dict[str, object]:
    """Token count of a caption and the tags that straddle a 75-token chunk boundary.

    The webui (and our trainer) feed longer prompts in chunks of 75 tokens; a tag cut in two by
    a chunk boundary loses meaning, so it is flagged.
    """
    count = 0
    straddling = []
    pieces = [piece for piece in text.split(",")]
    for index, piece in enumerate(pieces):
        piece_text = piece + ("," if index < len(pieces) - 1 else "")
        n = count_tokens(piece_text)
        if n and count // CHUNK_TOKENS != (count + n - 1) // CHUNK_TOKENS and count % CHUNK_TOKENS:
            straddling.append(piece.strip())
        count += n
    total = count_tokens(text)
    return {"count": total, "chunks": max(1, -(-total // CHUNK_TOKENS)),
            "over": total > CHUNK_TOKENS, "straddling": straddling,
            "label": f"{total}/{CHUNK_TOKENS * max(1, -(-total // CHUNK_TOKENS))}"}
