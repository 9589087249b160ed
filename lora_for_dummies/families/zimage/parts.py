"""Z-Image's parts, each from its own file, loaded as diffusers / transformers models offline.

The transformer is the job's base file (native or diffusers names, `layout.zimage_layout`); the
text encoder Qwen3-4B, the 16-channel Flux VAE and Qwen3's tokenizer come from the job's
`model.text_encoder`, `model.vae` and `model.tokenizer` or, for any not named, from the files
found beside the transformer and in the folders Forge Neo and ComfyUI keep them in (the same
search as Flux's, `flux.parts.candidates`). Configs: a file's own `lfd.configs` metadata (the
tiny demo's), else the bundled full-size Qwen3-4B (`assets/configs/zimage/text_encoder.json`)
and Flux VAE ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lora_for_dummies import messages as msg
from lora_for_dummies.errors import CheckpointError
from lora_for_dummies.families.flux.parts import (
    candidates,
    file_config,
    load_checked,
    load_vae,
    on_device,
)

PART_TITLES = {"text_encoder": "Qwen3-4B (qwen_3_4b.safetensors)",
               "vae": "the Flux VAE (ae.safetensors)"}
# Qwen3's own files name its layers `model.layers.N…` (with an `lm_head` a text encoder never
# uses); transformers' Qwen3Model names them without the `model.`.
QWEN_PREFIX = "model."
BLOCKS = ("layers.", "noise_refiner.", "context_refiner.")  # what fp8 storage keeps narrow


def is_qwen3(file: Any) -> bool:
    keys = file.keys()
    return any(k.endswith("embed_tokens.weight") for k in keys) and \
        any(".self_attn.q_norm." in k for k in keys)


def _kind(path: Path, text_width: int) -> str | None:
    from lora_for_dummies.checkpoints.reader import CheckpointFile
    from lora_for_dummies.families.flux.layout import identify_view

    with CheckpointFile(path) as file:
        if is_qwen3(file):
            embed = next(k for k in file.keys() if k.endswith("embed_tokens.weight"))
            return "text_encoder" if file.shape(embed)[1] == text_width else None
        part = identify_view(file)
        return "vae" if part is not None and part.kind == "vae" else None


def find_parts(model: Any, text_width: int) -> dict[str, Path]:
    """{component: file} for Qwen3 (of the transformer's text width) and the VAE: named in the
    job, else found."""
    parts = {name: Path(getattr(model, name)) for name in PART_TITLES if getattr(model, name)}
    wanted = [n for n in PART_TITLES if n not in parts]
    for candidate in candidates(Path(model.base)) if wanted else []:
        try:
            kind = _kind(candidate, text_width)
        except CheckpointError:
            continue
        if kind in wanted and kind not in parts:
            parts[kind] = candidate
    missing = [PART_TITLES[n] for n in wanted if n not in parts]
    if missing:
        raise msg.ZIMAGE_PARTS_MISSING.error(parts=", ".join(missing))
    return parts


def tokenizer_folder(model: Any) -> str:
    """Qwen3's tokenizer: `model.tokenizer`, else a `tokenizer` folder beside the transformer or
    beside its folder (a diffusers Z-Image folder: transformer/ and tokenizer/); "" when none."""
    if model.tokenizer:
        return str(model.tokenizer)
    base = Path(model.base).resolve()
    for folder in (base.parent / "tokenizer", base.parent.parent / "tokenizer"):
        if (folder / "tokenizer.json").is_file():
            return str(folder)
    return ""


def load_transformer(path: Path, dtype: Any, device: str, fp8: bool = False
                     ) -> tuple[Any, dict[str, Any], str]:
    """(ZImageTransformer2DModel in eval mode computing in `dtype`, its config, a line for the
    run's log) from a native- or diffusers-named file. With `fp8` (or a file stored in fp8) the
    blocks' Linear weights stay in fp8, widened as each layer runs (`stored_precision`)."""
    import torch
    from accelerate import init_empty_weights
    from diffusers import ZImageTransformer2DModel

    from lora_for_dummies.checkpoints.reader import CheckpointFile
    from lora_for_dummies.families.zimage.layout import zimage_layout
    from lora_for_dummies.train.stored_precision import compute_in

    with CheckpointFile(path) as file:
        layout = zimage_layout(file)
        if layout is None:
            raise CheckpointError(path, "not a Z-Image transformer")
        config = layout.config.diffusers_config()
        with init_empty_weights():
            model = ZImageTransformer2DModel(**config)
        stored_fp8 = layout.dtype.startswith("float8")
        narrow = torch.float8_e4m3fn if (fp8 or stored_fp8) and hasattr(torch, "float8_e4m3fn") \
            else None
        state = {}
        held: tuple[str, Any] | None = None
        for key in model.state_dict():  # q, k, v: rows of one native qkv, read once
            where = layout.weight(key)
            if held is None or held[0] != where.key:
                held = (where.key, file.get(where.key))
            tensor = held[1] if where.rows is None else \
                held[1][where.start: where.start + where.rows]
            kept = narrow is not None and key.startswith(BLOCKS) and key.endswith(".weight") \
                and tensor.dim() == 2
            state[key] = tensor.to(device, narrow if kept else dtype).contiguous()
    model.load_state_dict(state, strict=True, assign=True)
    model.eval().requires_grad_(False)
    if narrow is None:
        return model, config, ""
    kept = compute_in(model, dtype)
    return model, config, (f"transformer: {kept} layers kept in fp8 ("
                           + ("as the file stores them" if stored_fp8 else "model.fp8_base")
                           + f"), computed in {str(dtype).removeprefix('torch.')}")


def load_qwen3(path: Path, dtype: Any, device: str, family_key: str) -> tuple[Any, dict]:
    """transformers' Qwen3Model (the text encoder: no language-model head) from a Qwen3 file."""
    from transformers import Qwen3Config, Qwen3Model

    from lora_for_dummies.checkpoints.reader import CheckpointFile

    with CheckpointFile(path) as file:
        if not is_qwen3(file):
            raise CheckpointError(path, "not a Qwen3 text encoder")
        config = file_config(file, "text_encoder", family_key)
        state = {k.removeprefix(QWEN_PREFIX): v for k, v in
                 file.get_many([k for k in file.keys() if not k.startswith("lm_head.")]).items()}
    model = Qwen3Model(Qwen3Config(**{k: v for k, v in config.items()
                                      if k not in ("architectures", "_class_name")}))
    load_checked(model, on_device(state, device, dtype), path)
    return model.to(device, dtype).eval().requires_grad_(False), config


def load_flux_vae(path: Path, dtype: Any, device: str) -> tuple[Any, dict]:
    """Z-Image's VAE is Flux's (`flux.parts.load_vae`, Flux's bundled config)."""
    return load_vae(path, dtype, device, "flux")
