"""A tiny transformers BLIP captioning model saved to a folder, as a user's local model would be."""

from __future__ import annotations

from pathlib import Path

WORDS = ["a", "photo", "of", "dog", "cat", "on", "the", "grass", "sofa", "red", "blue"]


def write_tiny_blip(folder: Path) -> Path:
    import torch
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"] + WORDS
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(folder / "vocab.txt"), bos_token="[DEC]")
    text = dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=37,
                num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=64,
                bos_token_id=5, sep_token_id=3, pad_token_id=0, eos_token_id=3,
                encoder_hidden_size=32)
    vision = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                  num_attention_heads=4, image_size=32, patch_size=8)
    config = BlipConfig(text_config=text, vision_config=vision)
    torch.manual_seed(0)
    model = BlipForConditionalGeneration(config)
    with torch.no_grad():  # like a trained model, never predict special tokens as words
        bias = [p for n, p in model.named_parameters() if n.endswith("predictions.bias")][0]
        bias[:6] = -1e4
    model.save_pretrained(str(folder))
    processor = BlipProcessor(BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer)
    processor.save_pretrained(str(folder))
    return folder
