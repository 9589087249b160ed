"""What the Extract tab does, as plain functions of the host and the widgets' values."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from lora_for_dummies.errors import UserError
from lora_for_dummies.extract.run import ExtractSettings, extract_lora
from lora_for_dummies.hosts.base import Host
from lora_for_dummies.lora.format import load_lora, output_path
from lora_for_dummies.lora.lowrank import RankRule
from lora_for_dummies.progress import Reporter

REPORT_HEADERS = ["part", "module", "shape", "difference", "rank", "error", "skipped"]


class ExtractController:
    def __init__(self, host: Host) -> None:
        self.host = host

    def checkpoint_titles(self) -> list[str]:
        return [e.title for e in self.host.checkpoints()]

    def checkpoint(self, title: str | None) -> Path:
        for entry in self.host.checkpoints():
            if entry.title == title:
                return entry.path
        raise UserError(f"choose a checkpoint ({title or 'none chosen'} is not in the list; "
                        "press 🔄)")

    def loras(self) -> list[str]:
        from lora_for_dummies.ui.lists import lora_titles

        return lora_titles(self.host)

    def lora(self, title: str | None) -> Path:
        path = self.host.lora_dir() / (title or "")
        if not title or not path.is_file():
            raise UserError("choose a LoRA (press 🔄 if it is new)")
        return path

    def extract(self, base: str, tuned: str, name: str, rank: int, mode: str, threshold: float,
                conv_rank: int, text_encoders: bool, ema: bool, clamp: float, device: str,
                dtype: str, overwrite: bool, reporter: Reporter) -> tuple[list[list[Any]], str]:
        settings = ExtractSettings(
            rule=RankRule(mode=mode, rank=int(rank), threshold=float(threshold)),
            conv_rule=RankRule(rank=int(conv_rank)) if conv_rank else None,
            text_encoders=bool(text_encoders), use_ema=bool(ema),
            clamp=float(clamp) if clamp else None, device=device, save_dtype=dtype)
        settings.validate()  # before the webui's model is moved off the GPU
        # On CUDA it shares the GPU with the webui: take its lock and free its VRAM first.
        gpu = self.host.gpu_job() if settings.device.startswith("cuda") else nullcontext()
        with gpu:
            report = extract_lora(self.checkpoint(base), self.checkpoint(tuned),
                                  self.host.lora_dir(), name, settings, reporter,
                                  overwrite=bool(overwrite))
        self.host.refresh_loras()
        rows = [[m.part, m.name, "×".join(map(str, m.shape)), f"{m.difference:.3e}", m.rank,
                 f"{m.error:.4f}", m.skipped] for m in report.modules]
        use = (f"Use it in txt2img as <lora:{Path(report.output).stem}:1> with the base "
               "model (or another of its family); 1 is the fine-tune's full change.")
        return rows, "\n".join(report.summary() + [use])

    def info(self, title: str) -> str:
        from lora_for_dummies.lora.tools import lora_info

        return json.dumps(lora_info(self.lora(title)).as_dict(), indent=2, ensure_ascii=False)

    def _save(self, modules: dict[str, Any], metadata: dict[str, str], name: str, note: str,
              overwrite: bool) -> str:
        from lora_for_dummies.lora.tools import save_like

        out = save_like(output_path(self.host.lora_dir(), name), modules, metadata, note,
                        bool(overwrite))
        self.host.refresh_loras()
        return f"Saved {out.name} in the Lora folder."

    def rescale(self, title: str, factor: float, name: str, overwrite: bool) -> str:
        from lora_for_dummies.lora.format import load_modules
        from lora_for_dummies.lora.tools import rescale

        modules, metadata = load_modules(self.lora(title))  # every kind but DoRA rescales
        return self._save(rescale(modules, float(factor)), metadata, name,
                          f"strength baked ×{factor}", overwrite)

    def resize(self, title: str, rank: int, mode: str, threshold: float, name: str,
               overwrite: bool) -> str:
        from lora_for_dummies.lora.tools import capped_note, resize

        modules, metadata = load_lora(self.lora(title))
        resized, errors = resize(modules, RankRule(mode=mode, rank=int(rank),
                                                   threshold=float(threshold)))
        message = self._save(resized, metadata, name, f"resized to {mode} {rank}", overwrite)
        mean = sum(errors.values()) / max(len(errors), 1)
        note = capped_note(modules, int(rank))
        return (f"{message} Mean relative error {mean:.4f}, worst {max(errors.values()):.4f}."
                + (f" {note}." if note else ""))

    def merge(self, titles: list[str], weights: str, rank: int, name: str,
              overwrite: bool) -> str:
        from lora_for_dummies.lora.tools import merge

        if not titles:
            raise UserError("choose the LoRAs to merge")
        try:
            values = [float(w) for w in weights.replace(";", ",").split(",") if w.strip()] \
                if weights.strip() else [1.0 / len(titles)] * len(titles)
        except ValueError:
            raise UserError("weights: numbers separated by commas, e.g. 0.5, 0.5") from None
        loaded = [load_lora(self.lora(t)) for t in titles]
        merged = merge([m for m, _ in loaded], values,
                       RankRule(rank=int(rank)) if rank else None)
        note = "merged " + ", ".join(f"{t}×{w}" for t, w in zip(titles, values, strict=False))
        return self._save(merged, loaded[0][1], name, note, overwrite)

    def convert(self, sources: list[str], base: str, name: str, overwrite: bool) -> str:
        from lora_for_dummies.lora.convert import convert_to_kohya

        out, note, count = convert_to_kohya([Path(s) for s in sources if s],
                                            self.checkpoint(base), self.host.lora_dir(), name,
                                            bool(overwrite))
        self.host.refresh_loras()
        return f"{note}: {count} modules → {out.name}"
