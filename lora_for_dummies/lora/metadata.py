"""Metadata the webui, Forge and kohya's tools read from a LoRA, and the sidecar files."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lora_for_dummies.atomic import atomic_path, write_text_atomic
from lora_for_dummies.families import get_family


def base_model_version(family: str, v_prediction: bool = False) -> str:
    return get_family(family).lora_base_model_version(v_prediction)


def lora_metadata(family: str, name: str, rank: int, alpha: float, v_prediction: bool = False,
                  comment: str = "", extra: dict[str, Any] | None = None,
                  conv_rank: int = 0, conv_alpha: float = 0.0, resolution: int = 0,
                  clip_skip: int = 0, variant: str = "",
                  network: tuple[str, dict[str, str]] | None = None) -> dict[str, str]:
    """kohya `ss_*` keys (A1111 reads ss_base_model_version / ss_v2 / ss_output_name) and
    `modelspec.*` (Forge reads modelspec.architecture), in the formats kohya's sd-scripts
    writes them (`networks/extract_lora_from_models.py`, `library/sai_model_spec.py`,
    commit 48d368fa): dim "16", alpha "8.0", network args as strings, "{}" without any.
    `network`: (ss_network_module, its args) of a trained kind (`lora.kinds`); by default
    kohya's `networks.lora`, with LoCon's conv_dim / conv_alpha."""
    from lora_for_dummies import __version__

    spec = get_family(family)
    architecture = spec.lora_architecture(v_prediction)
    size = resolution or spec.lora_resolution(v_prediction)
    module, network_args = network or ("networks.lora", {
        "conv_dim": str(conv_rank), "conv_alpha": str(float(conv_alpha))} if conv_rank else {})
    metadata: dict[str, Any] = {
        "ss_network_module": module,
        "ss_network_dim": str(int(rank)),
        "ss_network_alpha": str(float(alpha)),
        "ss_network_args": json.dumps(network_args),
        "ss_base_model_version": base_model_version(family, v_prediction),
        "ss_v2": str(spec.is_v2()),
        "ss_output_name": name,
        "ss_training_comment": comment,
        "modelspec.sai_model_spec": "1.0.1",
        "modelspec.architecture": f"{architecture}/lora",
        "modelspec.implementation": spec.implementation,
        "modelspec.implementation_version": f"lora-for-dummies/{__version__}",
        "modelspec.title": name,
        "modelspec.date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "modelspec.resolution": f"{size}x{size}",
        "modelspec.prediction_type": "v" if v_prediction else "epsilon",
    }
    if clip_skip:
        metadata["modelspec.encoder_layer"] = str(clip_skip)
    metadata = spec.adjust_lora_metadata(metadata, variant)  # e.g. Flux's dev | schnell
    metadata.update(extra or {})
    return {k: str(v) for k, v in metadata.items()}


def _sd_version(family: str) -> str:
    try:
        return get_family(family).sd_version
    except ValueError:  # a LoRA of a family no plug-in knows (e.g. one being rescaled)
        return "Unknown"


def write_sidecar(lora_path: Path, family: str, activation_text: str = "",
                  preferred_weight: float = 1.0, notes: str = "", preview: Any = None) -> Path:
    """`<name>.json` as the webui's Lora cards read it, and `<name>.preview.png` if given."""
    lora_path = Path(lora_path)
    sidecar = lora_path.with_suffix(".json")
    data = {"description": "", "sd version": _sd_version(family),
            "activation text": activation_text, "preferred weight": preferred_weight,
            "negative text": "", "notes": notes}
    write_text_atomic(sidecar, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    if preview is not None:
        with atomic_path(lora_path.with_suffix(".preview.png")) as tmp:
            preview.save(tmp, "PNG")
    return sidecar
