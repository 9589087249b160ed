"""A tiny Flux with all its parts, random weights, so the whole Flux flow — inspect, train,
samples, save, extract — runs on a CPU in seconds: the transformer (BFL layout), CLIP-L, T5,
the 16-channel VAE (each file with its tiny config in `lfd.configs` metadata) and a small T5
tokenizer built with the `tokenizers` library (a word-level vocabulary: the real one is
sentencepiece, which only changes which ids words get)."""

from __future__ import annotations

from pathlib import Path

from lora_for_dummies.families.flux.architecture import variant_config

CLIP = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
            projection_dim=32, vocab_size=49408, max_position_embeddings=77, bos_token_id=49406,
            eos_token_id=49407, pad_token_id=49407, hidden_act="quick_gelu")
T5 = dict(d_model=48, d_kv=12, d_ff=64, num_layers=2, num_heads=4, vocab_size=512,
          feed_forward_proj="gated-gelu", is_encoder_decoder=False, pad_token_id=0,
          eos_token_id=1, decoder_start_token_id=0)
VAE = dict(block_out_channels=[8, 16, 32, 32], down_block_types=["DownEncoderBlock2D"] * 4,
           up_block_types=["UpDecoderBlock2D"] * 4, layers_per_block=1, norm_num_groups=8,
           latent_channels=16, use_quant_conv=False, use_post_quant_conv=False,
           scaling_factor=0.3611, shift_factor=0.1159, sample_size=64)
WORDS = ("a photo of the an in on with and sks dog cat man woman girl boy person red blue green "
         "black white hair eyes smiling standing sitting portrait style painting anime solo "
         "1girl long short outdoors indoors background simple looking at viewer").split()


def write_tokenizer(folder: Path) -> Path:
    """A T5-style tokenizer (pad 0, </s> 1, <unk> 2; `</s>` after each text) as tokenizer.json."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("0123456789,.!?()-_'")
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for word in [*WORDS, *letters]:
        vocab.setdefault(word, len(vocab))
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(),
                                                       pre_tokenizers.Punctuation()])
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>",
                                   eos_token="</s>", unk_token="<unk>")
    fast.save_pretrained(str(folder))
    return folder


def write_flux_demo(folder: str | Path, variant: str = "dev", seed: int = 0,
                    models_dir: str | Path | None = None, name: str = "") -> Path:
    """`<folder>/<name>` (default `flux-<variant>-demo.safetensors`) with T5's tokenizer
    beside it in `tokenizer_2/`, and its parts: beside it too, or with `models_dir` as Forge
    Neo keeps them — CLIP-L and T5 in `<models_dir>/text_encoder`, the VAE in
    `<models_dir>/VAE` (where `parts.find_parts` looks from a transformer in a folder of
    `models_dir`, and which the standalone host does not list as base models). Returns the
    transformer."""
    from lora_for_dummies.families.flux.synthetic import (
        random_transformer,
        save_transformer,
        write_clip_l,
        write_flux_vae,
        write_t5,
    )

    folder = Path(folder)
    encoders = Path(models_dir) / "text_encoder" if models_dir else folder
    vae_folder = Path(models_dir) / "VAE" if models_dir else folder
    for where in (folder, encoders, vae_folder):
        where.mkdir(parents=True, exist_ok=True)
    config = variant_config(variant, tiny=True)
    assert (config.vec_in_dim, config.context_in_dim) == (CLIP["hidden_size"], T5["d_model"])
    transformer = save_transformer(random_transformer(config, seed),
                                   folder / (name or f"flux-{variant}-demo.safetensors"))
    write_clip_l(encoders / "clip_l.safetensors", seed, CLIP)
    write_t5(encoders / "t5xxl_demo.safetensors", seed, config=T5)
    write_flux_vae(vae_folder / "ae.safetensors", seed, config=VAE)
    write_tokenizer(folder / "tokenizer_2")
    return transformer
