"""Derive the bundled CLIP tokenizer files from the BPE vocabulary that CLIP ships.

Run once (the output is committed in lora_for_dummies/assets/tokenizer/):
    pip install --no-deps clip-anytorch && python tools/build_tokenizer.py
The vocabulary is `bpe_simple_vocab_16e6.txt.gz`: 48 894 merges; the ids are the 256 byte
symbols, the same with `</w>`, one per merge, then the two special tokens.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

from transformers.models.clip.tokenization_clip import bytes_to_unicode

OUT = Path(__file__).resolve().parent.parent / "lora_for_dummies" / "assets" / "tokenizer"
MERGES = 49152 - 256 - 2


def main() -> None:
    spec = importlib.util.find_spec("clip")
    bpe = Path(spec.submodule_search_locations[0]) / "bpe_simple_vocab_16e6.txt.gz"
    lines = gzip.open(bpe).read().decode("utf-8").split("\n")[1:MERGES + 1]
    merges = [tuple(line.split()) for line in lines]
    vocab = list(bytes_to_unicode().values())
    vocab += [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)},
                                               ensure_ascii=False), encoding="utf-8")
    (OUT / "merges.txt").write_text("#version: 0.2\n" + "\n".join(lines) + "\n", encoding="utf-8")
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
               "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}
    (OUT / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")
    (OUT / "tokenizer_config.json").write_text(json.dumps(
        dict(special, tokenizer_class="CLIPTokenizer", model_max_length=77, do_lower_case=True,
             errors="replace"), indent=2) + "\n")
    print(f"wrote {len(vocab)} tokens and {len(merges)} merges to {OUT}")


if __name__ == "__main__":
    main()
