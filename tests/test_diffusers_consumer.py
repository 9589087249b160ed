"""diffusers' own `load_lora_weights`, run for real, as a consumer of every file we write:
trained (text encoder + conv), extracted LoRA and LoCon, resized, converted `.pt` — SD1 and
SDXL. For each file diffusers/peft must adapt every module in it (counted per part, and not one
"unmatched"/"ignored"/"unexpected" message), and after `fuse_lora` each weight must equal the
base plus our own applied delta (`lora/apply.py`).

Not in this table: dynamic-rank files (`extract --rank-mode energy`, per-module ranks and
alphas). diffusers turns those into peft `rank_pattern`/`alpha_pattern`, whose name matching
misses some modules and applies them too strongly (README, Extract tab): a known diffusers
limitation, not a key our writers get wrong.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from lora_fixtures import write_tuned
from train_fixtures import tiny_job

from lora_for_dummies.checkpoints.models import load_models
from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.checkpoints.write import save_state_dict
from lora_for_dummies.extract.run import ExtractSettings, extract_lora
from lora_for_dummies.lora import tools
from lora_for_dummies.lora.apply import merge_into_state
from lora_for_dummies.lora.format import load_lora
from lora_for_dummies.lora.lowrank import RankRule

# Words diffusers and peft use when a key of a LoRA finds no module, or is dropped: "No LoRA
# keys associated to …", "unexpected keys not found in the model", "missing keys", "… did not
# match", "… will be ignored". Any such message fails the test, whatever the counts say.
TROUBLE = re.compile(r"unmatch|did not match|not match|ignor|unexpected|missing|not used|"
                     r"no lora keys|not found|skip", re.IGNORECASE)


def _trained(base: Path, tmp: Path) -> Path:
    # LR 1e-2 so that one step moves the up weights well away from zero: a delta of ~1e-8
    # would make "fused equals ours" true of a loader that dropped the LoRA altogether.
    job = tiny_job(base, tmp, steps=1, samples={"enabled": False},
                   optimizer={"unet_lr": 1e-2, "text_encoder_lr": 1e-2},
                   network={"rank": 4, "alpha": 4, "conv_rank": 2, "train_text_encoder": True})
    from lora_for_dummies.train.loop import Trainer

    return Trainer(job, tmp / "Lora", device="cpu").run().lora


def _extracted(base: Path, tmp: Path, conv: bool, name: str = "extracted") -> Path:
    tuned = tmp / "tuned.safetensors"
    if not tuned.exists():
        write_tuned(base, tuned, conv=conv)
    extract_lora(base, tuned, tmp, name, ExtractSettings(
        rule=RankRule(rank=4), conv_rule=RankRule(rank=2) if conv else None))
    return tmp / f"{name}.safetensors"


def _resized(base: Path, tmp: Path) -> Path:
    """The LoCon cut to rank 2 and written as `lfd lora resize` writes it (`save_like`)."""
    modules, metadata = load_lora(_extracted(base, tmp, conv=True, name="rank4"))
    resized, _ = tools.resize(modules, RankRule(rank=2))
    return tools.save_like(tmp / "resized.safetensors", resized, metadata, "resized (fixed 2)")


def _converted_pt(base: Path, tmp: Path) -> Path:
    """An old dreambooth-extension UNet `.pt` + `_txt.pt`, through `convert_to_kohya` (what the
    CLI and the tab call). SD1 only: those files exist only for SD1 (the converter's text
    side reads one encoder)."""
    from test_lora_tools import CONFIGS, _cloneofsimo_pt

    from lora_for_dummies.lora.convert import TEXT_ORDER, convert_to_kohya

    _cloneofsimo_pt(tmp / "old.pt", "attn1 → attn2 → ff (newer diffusers)")
    generator = torch.Generator().manual_seed(1)
    hidden = CONFIGS["text_encoder"]["hidden_size"]
    pairs = CONFIGS["text_encoder"]["num_hidden_layers"] * len(TEXT_ORDER)
    text = []
    for _ in range(pairs):  # (up, down) per projection, as the extension saved them
        text += [torch.randn(hidden, 4, generator=generator) * 0.1,
                 torch.randn(4, hidden, generator=generator) * 0.1]
    torch.save(text, tmp / "old_txt.pt")
    out, _, _ = convert_to_kohya([tmp / "old.pt"], base, tmp / "Lora", "converted")
    return out


# One table: every writer, for each family it writes.
WRITERS: dict[str, Callable[[Path, Path], Path]] = {
    "trained": _trained,
    "extracted LoRA": lambda base, tmp: _extracted(base, tmp, conv=False),
    "extracted LoCon": lambda base, tmp: _extracted(base, tmp, conv=True),
    "resized LoCon": _resized,
    "converted .pt": _converted_pt,
}
CASES = [(family, writer) for writer in WRITERS for family in ("sd1", "sdxl")
         if not (writer == "converted .pt" and family == "sdxl")]


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
    base_state = {part: {k: v.clone() for k, v in model.state_dict().items()}
                  for part, model in load_models(base).models.items()}
    pipe = pipeline(load_models(base))
    with _messages() as seen:
        pipe.load_lora_weights(str(lora.parent), weight_name=lora.name)

    # (a) every module of the file became a peft LoRA module in the right part, and nothing
    # was reported dropped.
    ours = modules_per_part(names)
    assert sum(ours.values()) == len(names)  # every name of ours is in some part
    assert ours["text_encoder"] and bool(ours["text_encoder_2"]) == (family == "sdxl")
    if writer in ("trained", "extracted LoCon", "resized LoCon"):  # 3×3 conv layers are in it
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
