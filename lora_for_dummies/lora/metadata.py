"""Metadata the webui, Forge and kohya's tools read from a LoRA, and the sidecar files."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lora_for_dummies.atomic import atomic_path, write_text_atomic
from lora_for_dummies.checkpoints.families import FAMILIES

SD_VERSION = {"sd1": "SD1", "sd2": "SD2", "sdxl": "SDXL"}


def base_model_version(family: str, v_prediction: bool = False) -> str:
    version = FAMILIES[family].base_model_version
    return version + "_v" if family == "sd2" and v_prediction else version


def lora_metadata(family: str, name: str, rank: int, alpha: float, v_prediction: bool = False,
                  comment: str = "", extra: dict[str, Any] | None = None,
                  conv_rank: int = 0, conv_alpha: float = 0.0) -> dict[str, str]:
    """kohya `ss_*` keys (A1111 reads ss_base_model_version / ss_v2 / ss_output_name) and
    `modelspec.*` (Forge reads modelspec.architecture)."""
    architecture = FAMILIES[family].modelspec_architecture
    if family == "sd2" and v_prediction:
        architecture = "stable-diffusion-v2-768-v"
    metadata: dict[str, Any] = {
        "ss_network_module": "networks.lora",
        "ss_network_dim": rank,
        "ss_network_alpha": alpha,
        "ss_base_model_version": base_model_version(family, v_prediction),
        "ss_v2": str(family == "sd2"),
        "ss_output_name": name,
        "ss_training_comment": comment,
        "modelspec.sai_model_spec": "1.0.0",
        "modelspec.architecture": f"{architecture}/lora",
        "modelspec.implementation": "https://github.com/kohya-ss/sd-scripts",
        "modelspec.title": name,
        "modelspec.date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "modelspec.prediction_type": "v" if v_prediction else "epsilon",
    }
    if conv_rank:
        metadata["ss_network_args"] = json.dumps({"conv_dim": conv_rank, "conv_alpha": conv_alpha})
    metadata.update(extra or {})
    return {k: str(v) for k, v in metadata.items()}


def write_sidecar(lora_path: Path, family: str, activation_text: str = "",
                  preferred_weight: float = 1.0, notes: str = "", preview: Any = None) -> Path:
    """`<name>.json` as the webui's Lora cards read it, and `<name>.preview.png` if given."""
    lora_path = Path(lora_path)
    sidecar = lora_path.with_suffix(".json")
    data = {"description": "", "sd version": SD_VERSION.get(family, "Unknown"),
            "activation text": activation_text, "preferred weight": preferred_weight,
            "negative text": "", "notes": notes}
    write_text_atomic(sidecar, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    if preview is not None:
        with atomic_path(lora_path.with_suffix(".preview.png")) as tmp:
            preview.save(tmp, "PNG")
    return sidecar
