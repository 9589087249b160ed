"""A tiny Z-Image with all its parts, random weights, so the whole Z-Image flow — inspect, train,
samples, save, extract — runs on a CPU in seconds: the transformer (native names), a Qwen3 text
encoder of the transformer's text width (in the layout of `qwen_3_4b.safetensors`, its tiny
config in `lfd.configs` metadata), the Flux demo's 16-channel VAE, and a small Qwen-style
tokenizer built with the `tokenizers` library (a word-level vocabulary with Qwen's chat tokens:
the real one is byte-level BPE, which only changes which ids words get)."""

from __future__ import annotations

import json
from pathlib import Path

from lora_for_dummies.families.zimage.synthetic import TINY

# In a folder of their own under the demo's models/ (beside Flux's): the transformer and the
# fine-tune for the Extract tab; Qwen3 goes to models/text_encoder, the VAE to models/VAE.
DEMO_MODEL = "zimage/demo-tiny-zimage (random weights, samples are noise).safetensors"
DEMO_TUNED = "zimage/demo-tiny-zimage-finetuned (for the Extract tab).safetensors"
SPECIAL = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>")
QWEN3 = dict(hidden_size=TINY.cap_feat_dim, intermediate_size=64, num_hidden_layers=2,
             num_attention_heads=2, num_key_value_heads=1, head_dim=16, vocab_size=128,
             max_position_embeddings=1024, rms_norm_eps=1e-6, rope_theta=1000000.0,
             tie_word_embeddings=True)


def write_tokenizer(folder: Path) -> Path:
    """A Qwen-style tokenizer (pad `<|endoftext|>`, the chat tokens special) as tokenizer.json."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    from lora_for_dummies.families.flux.demo import WORDS

    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("0123456789,.!?()-_'")
    vocab = {token: index for index, token in enumerate(SPECIAL)}
    for word in [*WORDS, "user", "assistant", *letters]:
        vocab.setdefault(word, len(vocab))
    assert len(vocab) <= QWEN3["vocab_size"]
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(),
                                                       pre_tokenizers.Punctuation()])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<|endoftext|>",
                                   unk_token="<unk>",
                                   additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    fast.save_pretrained(str(folder))
    return folder


def write_qwen3(path: str | Path, seed: int = 0, config: dict | None = None) -> Path:
    """A tiny Qwen3 with the names of `qwen_3_4b.safetensors` (`model.layers.N…`)."""
    import torch
    from transformers import Qwen3Config, Qwen3Model

    from lora_for_dummies.checkpoints.write import save_state_dict
    from lora_for_dummies.families.flux.parts import CONFIGS_KEY

    config = dict(config or QWEN3)
    torch.manual_seed(seed)
    model = Qwen3Model(Qwen3Config(**config))
    state = {"model." + k: v for k, v in model.state_dict().items()}
    return save_state_dict(state, path, {CONFIGS_KEY: json.dumps(
        {"text_encoder": dict(config, architectures=["Qwen3ForCausalLM"])})})


def write_zimage_demo(folder: str | Path, seed: int = 0, models_dir: str | Path | None = None,
                      name: str = "zimage-demo.safetensors") -> Path:
    """`<folder>/<name>` with Qwen3's tokenizer beside it in `tokenizer/`, and its parts: beside
    it too, or with `models_dir` as Forge Neo keeps them (Qwen3 in `<models_dir>/text_encoder`,
    the VAE in `<models_dir>/VAE`). Returns the transformer."""
    from lora_for_dummies.families.flux.demo import VAE
    from lora_for_dummies.families.flux.synthetic import write_flux_vae
    from lora_for_dummies.families.zimage.synthetic import write_zimage_transformer

    folder = Path(folder)
    encoders = Path(models_dir) / "text_encoder" if models_dir else folder
    vae_folder = Path(models_dir) / "VAE" if models_dir else folder
    for where in (folder, encoders, vae_folder):
        where.mkdir(parents=True, exist_ok=True)
    transformer = write_zimage_transformer(folder / name, seed)
    write_qwen3(encoders / "qwen_3_demo.safetensors", seed)
    if not (vae_folder / "ae.safetensors").exists():  # the Flux demo's VAE serves both
        write_flux_vae(vae_folder / "ae.safetensors", seed, config=VAE)
    write_tokenizer(folder / "tokenizer")
    return transformer
