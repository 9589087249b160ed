"""The bundled tokenizer gives CLIP's own token ids (checked against CLIP's reference tokenizer)."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

from lora_for_dummies.tokenizer import count_tokens, token_ids

FRAGMENTS = [
    "1girl", "solo", "long hair", "looking at viewer", "smile", "blue eyes", "masterpiece",
    "(best quality:1.2)", "[background]", "a photo of sks dog", "in the style of van Gogh",
    "highres", "absurdres", "cowboy shot", "RAW photo, 8k uhd, dslr", "don't", "it's",
    "ultra-detailed", "café", "naïve", "日本語のテキスト", "emoji 🙂🔥", "C3PO", "R2-D2",
    "1990s (style)", "score_9, score_8_up", "x/y plot", "50mm f/1.8", "BREAK", "lora:thing:0.8",
    "Ünïcödé", "   spaced   out   ", "trailing,", "semi;colon", "a-b_c.d", "#hashtag", "100%",
    "tab\tseparated", "new\nline", "ALL CAPS WORDS", "mIxEd CaSe", "numbers 123456789",
    "hyphenated-word-chain", "under_score_tags", "quote \"marks\"", "it's a 'test'",
]


def _reference_tokenizer():
    spec = importlib.util.find_spec("clip")
    assert spec is not None, "install clip-anytorch with --no-deps for this test"
    path = Path(spec.submodule_search_locations[0]) / "simple_tokenizer.py"
    module_spec = importlib.util.spec_from_file_location("clip_simple_tokenizer", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)  # only this file: clip/__init__ needs torchvision
    return module.SimpleTokenizer()


def _prompts(count: int = 300) -> list[str]:
    rng = random.Random(1234)
    prompts = list(FRAGMENTS)
    while len(prompts) < count:
        k = rng.randint(1, 12)
        prompts.append(rng.choice([", ", " ", ","]).join(rng.sample(FRAGMENTS, k)))
    return prompts


def test_ids_match_clip_reference_on_varied_prompts():
    reference = _reference_tokenizer()
    prompts = _prompts()
    mismatches = [p for p in prompts if token_ids(p) != reference.encode(p)]
    assert not mismatches, f"{len(mismatches)} prompts differ, e.g. {mismatches[:3]}"
    assert len(prompts) >= 300


def test_special_tokens_and_counts():
    from lora_for_dummies.tokenizer import clip_tokenizer

    tokenizer = clip_tokenizer()
    assert tokenizer.bos_token_id == 49406 and tokenizer.eos_token_id == 49407
    assert len(tokenizer) == 49408
    assert count_tokens("a photo of a dog") == 5
    assert count_tokens("") == 0
    assert count_tokens(", ".join(["masterpiece"] * 80)) > 75
