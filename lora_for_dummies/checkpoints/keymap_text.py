"""Text-encoder key names: transformers CLIP ⇄ the layouts found in single-file checkpoints.

* CLIP ViT-L (SD1, SDXL encoder 1) is stored in the transformers layout under a prefix, so the
  map is the prefix alone.
* OpenCLIP (SD2's ViT-H, SDXL's ViT-bigG) has its own names, a fused `in_proj` for q/k/v and a
  transposed `text_projection`; SD2's checkpoint holds 24 layers of which diffusers uses 23.

Keys here are always in the canonical form with the `text_model.` prefix that real checkpoints
use; `models.py` adapts them to transformers versions that name weights without it.
"""

from __future__ import annotations

import re
from typing import Any

_OPENCLIP_LAYER = re.compile(r"^transformer\.resblocks\.(\d+)\.(.+)$")
_OPENCLIP_LAYER_PARTS = {
    "ln_1": "layer_norm1",
    "ln_2": "layer_norm2",
    "attn.out_proj": "self_attn.out_proj",
    "mlp.c_fc": "mlp.fc1",
    "mlp.c_proj": "mlp.fc2",
}
_OPENCLIP_TOP = {
    "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
    "positional_embedding": "text_model.embeddings.position_embedding.weight",
    "ln_final.weight": "text_model.final_layer_norm.weight",
    "ln_final.bias": "text_model.final_layer_norm.bias",
}


def openclip_to_hf(ldm: dict[str, Any], num_layers: int, with_projection: bool
                   ) -> tuple[dict[str, Any], set[str]]:
    """Convert OpenCLIP tensors (prefix already removed) to transformers CLIP names.

    Returns the converted tensors and the set of OpenCLIP keys that were used; keys not used
    (layers past `num_layers`, `logit_scale`, `attn_mask`) are left for the caller to keep.
    """
    out: dict[str, Any] = {}
    used: set[str] = set()
    for key, value in ldm.items():
        if key in _OPENCLIP_TOP:
            out[_OPENCLIP_TOP[key]] = value
        elif key == "text_projection" and with_projection:
            out["text_projection.weight"] = value.t().contiguous()
        else:
            match = _OPENCLIP_LAYER.match(key)
            if not match or int(match.group(1)) >= num_layers:
                continue
            layer, rest = match.groups()
            base = f"text_model.encoder.layers.{layer}."
            if rest.startswith("attn.in_proj_"):
                kind = rest.rsplit("_", 1)[1]  # weight | bias
                chunks = value.chunk(3, dim=0)
                for name, chunk in zip(("q_proj", "k_proj", "v_proj"), chunks, strict=True):
                    out[f"{base}self_attn.{name}.{kind}"] = chunk.contiguous()
            else:
                part, _, tail = rest.rpartition(".")
                if part not in _OPENCLIP_LAYER_PARTS:
                    continue
                out[f"{base}{_OPENCLIP_LAYER_PARTS[part]}.{tail}"] = value
        used.add(key)
    return out, used


def hf_to_openclip(hf: dict[str, Any]) -> dict[str, Any]:
    """Inverse of `openclip_to_hf` for the keys a transformers CLIP model has."""
    import torch

    top = {v: k for k, v in _OPENCLIP_TOP.items()}
    parts = {v: k for k, v in _OPENCLIP_LAYER_PARTS.items()}
    out: dict[str, Any] = {}
    fused: dict[tuple[str, str], dict[str, Any]] = {}
    for key, value in hf.items():
        if key in top:
            out[top[key]] = value
        elif key == "text_projection.weight":
            out["text_projection"] = value.t().contiguous()
        elif key.endswith("position_ids"):
            continue
        else:
            match = re.match(r"^text_model\.encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$", key)
            if not match:
                raise KeyError(f"no OpenCLIP name for text-encoder key {key!r}")
            layer, part, kind = match.groups()
            if part in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"):
                fused.setdefault((layer, kind), {})[part[-6]] = value
            else:
                out[f"transformer.resblocks.{layer}.{parts[part]}.{kind}"] = value
    for (layer, kind), qkv in fused.items():
        out[f"transformer.resblocks.{layer}.attn.in_proj_{kind}"] = torch.cat(
            [qkv["q"], qkv["k"], qkv["v"]], dim=0)
    return out


def openclip_weight_location(module: str) -> tuple[str, int | None]:
    """Where a transformers CLIP module's weight lives in an OpenCLIP checkpoint.

    Returns (key without prefix, third of the fused in_proj or None).
    """
    match = re.match(r"^(?:text_model\.)?encoder\.layers\.(\d+)\.(.+)$", module)
    if not match:
        raise KeyError(f"no OpenCLIP location for {module!r}")
    layer, part = match.groups()
    base = f"transformer.resblocks.{layer}."
    fused = {"self_attn.q_proj": 0, "self_attn.k_proj": 1, "self_attn.v_proj": 2}
    if part in fused:
        return base + "attn.in_proj_weight", fused[part]
    openclip_names = {v: k for k, v in _OPENCLIP_LAYER_PARTS.items()}
    return base + openclip_names[part] + ".weight", None
