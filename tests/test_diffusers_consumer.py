"""diffusers' own `load_lora_weights`, run for real, as a consumer of every file we write:
trained (text encoder + conv), extracted LoRA, LoCon and dynamic rank, resized, converted `.pt`
— SD1 and SDXL. For each file diffusers/peft must adapt every module in it (counted per part,
and not one "unmatched"/"ignored"/"unexpected" message), and after `fuse_lora` each weight must
equal the base plus our own applied delta (`lora/apply.py`).

The dynamic-rank file is the one diffusers got wrong while each module kept its own alpha
(peft: "alpha_pattern keys did not match any targeted module and were ignored"); written with
one alpha (`lora.format.one_alpha`) it is applied exactly.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from lora_files import CASES, WRITERS

from lora_for_dummies.checkpoints.models import load_models
from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.checkpoints.write import save_state_dict
from lora_for_dummies.lora.apply import merge_into_state
from lora_for_dummies.lora.format import load_lora

# Words diffusers and peft use when a key of a LoRA finds no module, or is dropped: "No LoRA
# keys associated to …", "unexpected keys not found in the model", "missing keys", "… did not
# match", "… will be ignored". Any such message fails the test, whatever the counts say.
TROUBLE = re.compile(r"unmatch|did not match|not match|ignor|unexpected|missing|not used|"
                     r"no lora keys|not found|skip", re.IGNORECASE)


@contextmanager
def _messages() -> Iterator[list[str]]:
    """Every warning and every log record of diffusers, peft and transformers inside the block.

    diffusers' library logger does not propagate to the root logger (so pytest's caplog sees
    nothing): a handler goes on each library logger directly.
    """
    seen: list[str] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(f"{record.name}: {record.getMessage()}")

    handler = _Keep(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("diffusers", "peft", "transformers")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)  # INFO too: some versions say "ignored" only there
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield seen
        seen.extend(f"{w.category.__name__}: {w.message}" for w in caught)
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def _expected_models(base: Path, lora: Path, tmp: Path) -> dict[str, torch.nn.Module]:
    """Base + our own applied delta, merged in the checkpoint's layout and loaded like a base."""
    modules, _ = load_lora(lora)
    with CheckpointFile(base) as file:
        state = {k: file.get(k) for k in file.keys()}
        metadata = dict(file.metadata)
    loaded = load_models(base, components=["unet"])
    merged, unmatched = merge_into_state(state, modules, loaded.family, loaded.configs)
    assert unmatched == []
    save_state_dict(merged, tmp / "merged.safetensors", metadata)
    return load_models(tmp / "merged.safetensors").models


def _skip_without_peft_backend() -> None:
    import diffusers
    from diffusers.utils import USE_PEFT_BACKEND

    if not USE_PEFT_BACKEND:
        # webui set (diffusers 0.31, transformers 4.30.2): diffusers' PEFT backend needs
        # transformers > 4.33, and without it `load_lora_weights` refuses ("PEFT backend is
        # required"); there the consumer rules and our own merge are what check these files.
        import transformers

        pytest.skip(f"diffusers {diffusers.__version__}'s load_lora_weights needs its PEFT "
                    f"backend (transformers > 4.33; this set has {transformers.__version__})")


@pytest.mark.parametrize(("family", "writer"), CASES, ids=[f"{f}-{w}" for f, w in CASES])
def test_diffusers_loads_and_applies_our_file(tiny_models, tmp_path, family, writer):
    _skip_without_peft_backend()
    from diffusers_check import adapted_per_part, modules_per_part, pipeline

    base = tiny_models[family]
    lora = WRITERS[writer](base, tmp_path)
    modules = load_lora(lora)[0]
    names = list(modules)
    loaded = load_models(base)
    base_state = {part: {k: v.clone() for k, v in model.state_dict().items()}  # fuse is in place
                  for part, model in loaded.models.items()}
    pipe = pipeline(loaded)
    with _messages() as seen:
        pipe.load_lora_weights(str(lora.parent), weight_name=lora.name)

    # (a) every module of the file became a peft LoRA module in the right part, and nothing
    # was reported dropped.
    ours = modules_per_part(names)
    assert sum(ours.values()) == len(names)  # every name of ours is in some part
    assert ours["text_encoder"] and bool(ours["text_encoder_2"]) == (family == "sdxl")
    if writer in ("trained", "extracted LoCon", "extracted dynamic rank", "resized LoCon"):
        assert any(m.down.dim() == 4 and m.down.shape[-1] > 1 for m in modules.values())
    assert adapted_per_part(pipe) == ours
    trouble = [m for m in seen if TROUBLE.search(m)]
    assert trouble == [], trouble[:5]

    # (b) the weights diffusers patches in equal base + our delta, module by module.
    pipe.fuse_lora()
    pipe.unload_lora_weights()  # drops the peft wrappers; the fused weights stay
    expected = _expected_models(base, lora, tmp_path)
    changed = 0
    for part in ("unet", "text_encoder", "text_encoder_2"):
        if part not in expected:
            continue
        fused = getattr(pipe, part).state_dict()
        assert set(fused) == set(expected[part].state_dict())
        for key, want in expected[part].state_dict().items():
            before = base_state[part][key]
            delta = (want - before).float()
            if not delta.any():
                assert torch.equal(fused[key], before), f"{part}.{key} changed, not in our file"
                continue
            changed += 1
            error = float((fused[key] - want).float().norm() / delta.norm())
            assert error < 1e-4, f"{part}.{key}: diffusers' delta differs from ours by {error:.2e}"
    # One weight per module: diffusers' layout splits OpenCLIP's fused in_proj into q/k/v.
    assert changed == len(names)
