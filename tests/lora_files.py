"""The LoRA files our writers produce, as one table for every consumer test: trained (text
encoder + conv), extracted LoRA and LoCon, resized, converted `.pt` — each for the families it
writes. Each writer takes (base checkpoint, empty folder) and returns the file it wrote."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from lora_fixtures import write_tuned
from train_fixtures import tiny_job

from lora_for_dummies.extract.run import ExtractSettings, extract_lora
from lora_for_dummies.lora import tools
from lora_for_dummies.lora.format import load_lora
from lora_for_dummies.lora.lowrank import RankRule


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


def _extracted_dynamic(base: Path, tmp: Path) -> Path:
    """`extract --rank-mode ratio`: every module its own rank (1 … 6 here) — the file diffusers
    misapplied while each module kept its own alpha."""
    tuned = tmp / "tuned-dynamic.safetensors"
    write_tuned(base, tuned, conv=True, ranks=(1, 2, 3, 4, 5, 6))  # σᵢ ∝ 0.6ⁱ: ratio 0.05 keeps all
    extract_lora(base, tuned, tmp, "dynamic", ExtractSettings(
        rule=RankRule(mode="ratio", rank=6, threshold=0.05),
        conv_rule=RankRule(mode="ratio", rank=3, threshold=0.05)))
    path = tmp / "dynamic.safetensors"
    assert len({m.rank for m in load_lora(path)[0].values()}) > 2  # really dynamic
    return path


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
    "extracted dynamic rank": _extracted_dynamic,
    "resized LoCon": _resized,
    "converted .pt": _converted_pt,
}
CASES = [(family, writer) for writer in WRITERS for family in ("sd1", "sdxl")
         if not (writer == "converted .pt" and family == "sdxl")]
