"""Prompt → text-encoder conditioning, as the webui does it: 75-token chunks, each encoded by
the family's own rule (clip skip; SDXL's two encoders and pooled embedding)."""

from __future__ import annotations

from typing import Any

from lora_for_dummies.families import get_family
from lora_for_dummies.tokenizer import CHUNK_TOKENS, clip_tokenizer, token_ids


def _chunks(text: str, max_chunks: int) -> list[list[int]]:
    tokenizer = clip_tokenizer()
    ids = token_ids(text)
    ids = ids[: CHUNK_TOKENS * max_chunks]
    pieces = [ids[i:i + CHUNK_TOKENS] for i in range(0, len(ids), CHUNK_TOKENS)] or [[]]
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    return [[bos] + piece + [eos] * (CHUNK_TOKENS + 1 - len(piece)) for piece in pieces]


def token_batch(captions: list[str], max_chunks: int) -> Any:
    """(batch, chunks, 77) token ids; every caption padded to the same number of chunks."""
    import torch

    tokenizer = clip_tokenizer()
    chunked = [_chunks(c, max_chunks) for c in captions]
    count = max(len(c) for c in chunked)
    empty = [tokenizer.bos_token_id] + [tokenizer.eos_token_id] * (CHUNK_TOKENS + 1)
    return torch.tensor([c + [empty] * (count - len(c)) for c in chunked])


def unused_final_layers(family: str, component: str, clip_skip: int) -> int:
    """How many final layers of a text encoder `encode_tokens` leaves out (the family says)."""
    return get_family(family).unused_final_layers(component, clip_skip)


def encode_tokens(family: str, encoders: list[Any], tokens: Any, clip_skip: int
                  ) -> tuple[Any, Any]:
    """(hidden states (batch, 77·chunks, dim), pooled embedding or None) of (batch, chunks, 77)
    token ids, encoded as the family does it (`Family.encode_text`)."""
    batch, chunks, length = tokens.shape
    flat = tokens.reshape(batch * chunks, length).to(next(encoders[0].parameters()).device)
    hidden, pooled = get_family(family).encode_text(encoders, flat, clip_skip)
    if pooled is not None:  # the pooled embedding of each caption's first chunk
        pooled = pooled.reshape(batch, chunks, -1)[:, 0]
    return hidden.reshape(batch, chunks * length, -1), pooled


def cached_conditioning(cache: dict[str, Any], captions: list[str], tokens: Any,
                        encode: Any) -> tuple[Any, Any]:
    """`encode_tokens` for a batch of captions through `cache` ({caption: its conditioning}):
    a frozen text encoder runs once per caption. `encode(tokens)` encodes one caption's row."""
    import torch

    hidden, pooled = [], []
    for caption, row in zip(captions, tokens, strict=True):
        if caption not in cache:
            with torch.no_grad():
                cache[caption] = encode(row[None])
        h, p = cache[caption]
        hidden.append(h)
        pooled.append(p)
    return torch.cat(hidden), (torch.cat(pooled) if pooled[0] is not None else None)
