"""No false alarms on the console: the libraries' warnings about things we do on purpose are
silenced where they arise, and nothing else is."""

from __future__ import annotations

import logging
import warnings

import torch

from lora_for_dummies.checkpoints.models import load_models
from lora_for_dummies.tokenizer import clip_tokenizer, count_tokens
from lora_for_dummies.train.config import NetworkConfig
from lora_for_dummies.train.network import inject_lora
from lora_for_dummies.train.text import token_batch


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _listen(name: str) -> _Records:
    handler = _Records()
    logging.getLogger(name).addHandler(handler)
    return handler


def test_long_captions_raise_no_indexing_errors_warning():
    clip_tokenizer.cache_clear()  # transformers warns once per tokenizer: use a fresh one
    records = _listen("transformers")
    try:
        caption = ", ".join(f"tag{i}" for i in range(60))
        assert count_tokens(caption) > 77
        assert token_batch([caption], max_chunks=3).shape[1] >= 2
    finally:
        logging.getLogger("transformers").removeHandler(records)
    assert not [m for m in records.messages if "indexing errors" in m]


def test_loading_in_half_precision_raises_no_float32_notice(tiny_models):
    records = _listen("diffusers")
    try:
        loaded = load_models(tiny_models["sd1"], components=["vae", "unet"], dtype=torch.float16)
        loaded.models["vae"].to(dtype=torch.float32)  # as sampling does
    finally:
        logging.getLogger("diffusers").removeHandler(records)
    assert not [m for m in records.messages if "kept in float32" in m]
    # Only the empty-list notice is dropped: the filter lets any other record through.
    from lora_for_dummies.checkpoints.models import _EmptyFp32Notice

    record = logging.LogRecord("diffusers", logging.WARNING, "", 0,
                               "should be kept in float32: ['quant_conv']", None, None)
    assert _EmptyFp32Notice().filter(record)


def test_conv_layers_join_the_adapter_without_a_multiple_adapters_warning(tiny_models):
    unet = load_models(tiny_models["sd1"], components=["unet"]).models["unet"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = inject_lora(unet, "unet", NetworkConfig(rank=4, alpha=4, conv_rank=2))
    assert any("conv" in n for n in names)
    assert not [w for w in caught if "peft_config" in str(w.message)]
