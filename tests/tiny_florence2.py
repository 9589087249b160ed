"""A tiny transformers Florence-2 (DaViT vision tower, BART text model) and its processor saved
to a folder, as a user's local copy of florence-community/Florence-2-base would be: the real
classes and file layout, random weights, a ten-word vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

WORDS = ["a", "photo", "dog", "cat", "on", "the", "grass", "red", "blue", "sofa"]
IMAGE = 32  # px; the vision tower's strides 4 and 2 leave 4 × 4 patches
IMAGE_TOKENS = 4 * 4 + 1  # the patches and one pooled token (577 = 24 × 24 + 1 at 768 px)


def write_tiny_florence2(folder: Path) -> Path:
    import torch
    from transformers import (
        BartTokenizer,
        CLIPImageProcessor,
        Florence2Config,
        Florence2ForConditionalGeneration,
        Florence2Processor,
    )

    folder.mkdir(parents=True, exist_ok=True)
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    pieces = sorted(set("".join(WORDS)))
    tokens = specials + pieces + ["Ġ"] + ["Ġ" + w for w in WORDS]  # words follow a space
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    tokenizer = BartTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"),
                              extra_special_tokens={"image_token": "<image>"})
    tokenizer.add_tokens(["<image>"], special_tokens=True)
    vision = dict(depths=(1, 1), patch_size=(7, 3), patch_stride=(4, 2), patch_padding=(3, 1),
                  patch_prenorm=(False, True), embed_dim=(16, 32), num_heads=(2, 4),
                  num_groups=(2, 4), window_size=2, projection_dim=32,
                  max_temporal_embeddings=4, max_position_embeddings=8)
    text = dict(vocab_size=len(tokenizer), d_model=32, encoder_layers=1, decoder_layers=1,
                encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=37,
                decoder_ffn_dim=37, max_position_embeddings=128, pad_token_id=1,
                bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)
    config = Florence2Config(text_config=text, vision_config=vision,
                             image_token_id=tokenizer.image_token_id)
    torch.manual_seed(0)
    model = Florence2ForConditionalGeneration(config).eval()
    # Like a trained model: words, not special tokens or letters, and not the end at once
    # (the generation config, saved beside the weights as the real repository's is).
    first_word = len(specials) + len(pieces) + 1
    model.generation_config.suppress_tokens = [t for t in range(first_word) if t != 2] + \
        [tokenizer.image_token_id]
    model.generation_config.begin_suppress_tokens = [2]
    model.save_pretrained(str(folder))
    images = CLIPImageProcessor(size={"height": IMAGE, "width": IMAGE}, do_center_crop=False,
                                crop_size={"height": IMAGE, "width": IMAGE},
                                image_seq_length=IMAGE_TOKENS)
    Florence2Processor(image_processor=images, tokenizer=tokenizer).save_pretrained(str(folder))
    return folder
