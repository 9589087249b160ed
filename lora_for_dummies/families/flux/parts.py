"""Flux's parts, each from its own file, loaded as diffusers / transformers models offline.

The transformer is the job's base file (BFL layout, converted with `keys.bfl_to_diffusers`);
CLIP-L, T5-XXL, the 16-channel VAE and T5's tokenizer come from the job's `model.text_encoder`,
`model.text_encoder_2`, `model.vae` and `model.tokenizer_2` or, for any not named, from the
files found beside the transformer and in the folders Forge Neo and ComfyUI keep them in
(`find_parts`).
Configs: a file's own `lfd.configs` metadata (the tiny demo's), else the bundled full-size ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lora_for_dummies import messages as msg
from lora_for_dummies.errors import CheckpointError, UserError
from lora_for_dummies.families.base import bundled_config

CONFIGS_KEY = "lfd.configs"
PART_KINDS = {"text_encoder": "clip_l", "text_encoder_2": "t5xxl", "vae": "vae"}
PART_TITLES = {"text_encoder": "CLIP-L (clip_l.safetensors)",
               "text_encoder_2": "T5-XXL (t5xxl_fp16 or t5xxl_fp8_e4m3fn.safetensors)",
               "vae": "the Flux VAE (ae.safetensors)"}
# Where the hosts keep the separate files, relative to the transformer's folder: ComfyUI's
# models/{text_encoders,clip,vae}, Forge Neo's models/{text_encoder,VAE}, or beside it.
FOLDERS = ("text_encoder", "text_encoders", "clip", "VAE", "vae")
SEARCH = (".", *(f"../{name}" for name in FOLDERS))


def candidates(base: Path) -> list[Path]:
    """The .safetensors files beside `base` and in the hosts' part folders (`SEARCH`)."""
    found = []
    for relative in SEARCH:
        folder = (base.parent / relative).resolve()
        if folder.is_dir():
            found += sorted(p for p in folder.iterdir() if p.suffix == ".safetensors"
                            and p.resolve() != base.resolve())
    return found


def find_parts(model: Any, needs_clip: bool = True) -> dict[str, Path]:
    """{component: file} for CLIP-L, T5 and the VAE: named in the job, else found."""
    from lora_for_dummies.families.flux.layout import identify_part

    parts = {name: Path(getattr(model, name)) for name in PART_KINDS if getattr(model, name)}
    wanted = [n for n in PART_KINDS if n not in parts and (needs_clip or n != "text_encoder")]
    for candidate in candidates(Path(model.base)) if wanted else []:
        try:
            kind = identify_part(candidate).kind
        except CheckpointError:
            continue
        for name in wanted:
            if PART_KINDS[name] == kind and name not in parts:
                parts[name] = candidate
    missing = [PART_TITLES[n] for n in wanted if n not in parts]
    if missing:
        raise msg.FLUX_PARTS_MISSING.error(parts=", ".join(missing))
    return parts


# Forge and Forge Neo keep the FLUX.1 configs and tokenizers in their own tree, which holds the
# model folders: <webui>/backend/huggingface/black-forest-labs/FLUX.1-dev/tokenizer_2.
FORGE_TOKENIZER = Path("backend", "huggingface", "black-forest-labs", "FLUX.1-dev", "tokenizer_2")


def tokenizer_folder(model: Any) -> str:
    """T5's tokenizer: `model.tokenizer_2`, else a `tokenizer_2` folder beside the transformer,
    else Forge's copy above the models folder ("" when there is none; `text.t5_tokenizer` then
    says what to do)."""
    if model.tokenizer_2:
        return str(model.tokenizer_2)
    base = Path(model.base).resolve()
    for folder in [base.parent / "tokenizer_2"] + [a / FORGE_TOKENIZER for a in base.parents[1:4]]:
        if folder.is_dir():
            return str(folder)
    return ""


def file_config(file: Any, component: str, family_key: str) -> dict[str, Any]:
    embedded = file.metadata.get(CONFIGS_KEY)
    if embedded:
        try:
            return json.loads(embedded)[component]
        except (json.JSONDecodeError, KeyError):
            pass
    return bundled_config(family_key, component)


def on_device(state: dict[str, Any], device: str, dtype: Any) -> dict[str, Any]:
    return {k: v.to(device, dtype if v.is_floating_point() else None) for k, v in state.items()}


def load_transformer(path: Path, dtype: Any, device: str, fp8: bool = False
                     ) -> tuple[Any, dict[str, Any], str]:
    """(FluxTransformer2DModel in eval mode computing in `dtype`, its diffusers config, a line
    for the run's log) from a BFL-layout file. The blocks' Linear weights stay in fp8 when the
    file stores them so or `fp8` asks (`stored_precision.compute_in` widens each as it runs)."""
    from accelerate import init_empty_weights
    from diffusers import FluxTransformer2DModel

    from lora_for_dummies.checkpoints.reader import CheckpointFile
    from lora_for_dummies.families.flux.keys import bfl_to_diffusers, diffusers_config
    from lora_for_dummies.families.flux.layout import flux_layout

    with CheckpointFile(path) as file:
        layout = flux_layout(file)
        if layout is None:
            raise CheckpointError(path, "not a Flux transformer")
        if layout.variant == "chroma":
            raise UserError("training Chroma is not supported yet (its inspection and "
                            "extraction are); train a Flux.1 dev or schnell file")
        wanted = [k for k in file.keys() if k.startswith(layout.prefix)]
        state = bfl_to_diffusers(file.get_many(wanted), layout.config, layout.prefix)
    import torch

    from lora_for_dummies.train.stored_precision import compute_in

    config = diffusers_config(layout.config)
    with init_empty_weights():
        model = FluxTransformer2DModel(**config)
    narrow = torch.float8_e4m3fn if (fp8 or layout.fp8) and hasattr(torch, "float8_e4m3fn") \
        else None
    blocks = ("transformer_blocks.", "single_transformer_blocks.")
    loaded = {}
    for key in list(state):  # one tensor at a time: each read copy is let go once converted
        tensor = state.pop(key)
        kept = narrow is not None and key.startswith(blocks)
        if kept and key.endswith(".weight") and tensor.dim() == 2:
            target = narrow
        elif kept and key.endswith(".bias"):  # the kept layers' biases: bf16, not fp8
            target = torch.bfloat16
        else:
            target = dtype if tensor.is_floating_point() else None
        loaded[key] = tensor.to(device, target)
    model.load_state_dict(loaded, strict=True, assign=True)
    model.eval().requires_grad_(False)
    note = ""
    if narrow is not None:
        kept = compute_in(model, dtype)
        note = (f"transformer: {kept} layers kept in fp8 ("
                + ("as the file stores them" if layout.fp8 else "model.fp8_base")
                + f"), computed in {str(dtype).removeprefix('torch.')}")
    return model, config, note


def load_clip(path: Path, dtype: Any, device: str, family_key: str) -> tuple[Any, dict]:
    from transformers import CLIPTextConfig, CLIPTextModel

    from lora_for_dummies.checkpoints.reader import CheckpointFile

    with CheckpointFile(path) as file:
        config = file_config(file, "text_encoder", family_key)
        state = file.get_many([k for k in file.keys() if not k.endswith("position_ids")])
    model = CLIPTextModel(CLIPTextConfig(**{k: v for k, v in config.items()
                                            if k != "architectures"}))
    own = set(model.state_dict())
    state = {k if k in own else k.removeprefix("text_model."): v for k, v in state.items()}
    load_checked(model, on_device(state, device, dtype), path)
    return model.to(device, dtype).eval().requires_grad_(False), config


def load_t5(path: Path, dtype: Any, device: str, family_key: str) -> tuple[Any, dict]:
    from transformers import T5Config, T5EncoderModel

    from lora_for_dummies.checkpoints.reader import CheckpointFile

    with CheckpointFile(path) as file:
        config = file_config(file, "text_encoder_2", family_key)
        state = file.get_many(file.keys())
    # The files hold the shared embedding once (`shared.weight`); the encoder reads it too.
    state.setdefault("encoder.embed_tokens.weight", state.get("shared.weight"))
    model = T5EncoderModel(T5Config(**{k: v for k, v in config.items()
                                       if k != "architectures"}))
    load_checked(model, on_device(state, device, dtype), path)
    return model.to(device, dtype).eval().requires_grad_(False), config


def load_vae(path: Path, dtype: Any, device: str, family_key: str) -> tuple[Any, dict]:
    from diffusers import AutoencoderKL

    from lora_for_dummies.checkpoints.keymap_vae import needs_conv_shape, vae_module_to_ldm
    from lora_for_dummies.checkpoints.reader import CheckpointFile

    with CheckpointFile(path) as file:
        config = file_config(file, "vae", family_key)
        model = AutoencoderKL.from_config({k: v for k, v in config.items()
                                           if not k.startswith("_")})
        keys = set(file.keys())
        state = {}
        for key in model.state_dict():
            ldm = vae_module_to_ldm(key, config)
            name = ldm if ldm in keys else key  # ae.safetensors (LDM names) or diffusers names
            if name not in keys:
                raise CheckpointError(path, f"not the Flux VAE: {ldm} is missing")
            tensor = file.get(name)
            state[key] = tensor.flatten(1) if needs_conv_shape(key) and tensor.dim() == 4 \
                else tensor
    load_checked(model, on_device(state, device, dtype), path)
    return model.to(device, dtype).eval().requires_grad_(False), config


def load_checked(model: Any, state: dict[str, Any], path: Path) -> None:
    """Load `state` into `model`; a file that does not match its config is one line."""
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
    if missing or result.unexpected_keys:
        raise CheckpointError(path, f"does not match its config: missing {missing[:2]}, "
                              f"unexpected {list(result.unexpected_keys)[:2]}")
