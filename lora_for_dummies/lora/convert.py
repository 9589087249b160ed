"""Old formats → kohya LoRA: the dreambooth extension's `.pt` (cloneofsimo lists) and
diffusers/peft LoRA safetensors.

A cloneofsimo `.pt` is a bare list `[up, down, up, down, …]` with no names and no alpha (scale
1, so alpha = rank); `<name>_txt.pt` holds the text encoder. The tensors follow the order in
which the training diffusers version registered its modules: attention layers (q, k, v, out of
attn1 and attn2) and, in some versions, the GEGLU projection of the feed-forward — attn1 → ff →
attn2 in older diffusers, attn1 → attn2 → ff in newer. Every known order is tried; the result
is accepted only if exactly one order fits every shape.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lora_for_dummies.checkpoints.kohya_names import kohya_name
from lora_for_dummies.checkpoints.models import build_model
from lora_for_dummies.errors import UserError
from lora_for_dummies.lora.format import LoraModule

_ATTN = ("to_q", "to_k", "to_v", "to_out.0")
UNET_ORDERS = {
    "attention only": ("attn1", "attn2"),
    "attn1 → ff → attn2 (older diffusers)": ("attn1", "ff", "attn2"),
    "attn1 → attn2 → ff (newer diffusers)": ("attn1", "attn2", "ff"),
}
# transformers registers CLIPAttention's projections in this order.
TEXT_ORDER = ("k_proj", "v_proj", "q_proj", "out_proj")


def _unet_modules(unet: Any, order: tuple[str, ...]) -> list[str]:
    names = []
    blocks = [n for n, _ in unet.named_modules() if re.search(r"transformer_blocks\.\d+$", n)]
    for block in blocks:
        for part in order:
            if part == "ff":
                names.append(f"{block}.ff.net.0.proj")
            else:
                names += [f"{block}.{part}.{proj}" for proj in _ATTN]
    return names


def _read_pt(path: Path) -> list[Any]:
    from lora_for_dummies.checkpoints.reader import load_pickle_safely

    if not path.is_file() or path.stat().st_size == 0:
        raise UserError(f"{path.name}: missing or empty file")
    obj = load_pickle_safely(path)
    if not isinstance(obj, (list, tuple)) or not obj or len(obj) % 2 or not all(
            hasattr(t, "shape") and t.dim() == 2 for t in obj):
        raise UserError(f"{path.name}: unknown layout — expected the dreambooth extension's list "
                        "of up/down weight pairs")
    return list(obj)


def _match(tensors: list[Any], modules: list[tuple[str, Any]]) -> bool:
    if len(tensors) != 2 * len(modules):
        return False
    for (_, weight_shape), up, down in zip(modules, tensors[0::2], tensors[1::2], strict=True):
        if up.shape[1] != down.shape[0] or (up.shape[0], down.shape[1]) != tuple(weight_shape):
            return False
    return True


def convert_cloneofsimo(unet_pt: Path, family: str, configs: dict[str, dict[str, Any]],
                        text_pt: Path | None = None) -> tuple[dict[str, LoraModule], str]:
    """Convert to kohya modules. Returns the modules and the module order that fitted."""
    unet_pt = Path(unet_pt)
    tensors = _read_pt(unet_pt)
    unet = build_model("unet", configs["unet"], empty=True)
    shapes = {n: tuple(m.weight.shape) for n, m in unet.named_modules() if hasattr(m, "weight")
              and m.weight is not None}
    fitting = []
    for label, order in UNET_ORDERS.items():
        names = _unet_modules(unet, order)
        if _match(tensors, [(n, shapes[n]) for n in names]):
            fitting.append((label, names))
    if len(fitting) != 1:
        reason = "no known module order fits" if not fitting else \
            f"several orders fit ({', '.join(f[0] for f in fitting)})"
        raise UserError(f"{unet_pt.name}: {reason} this model's layers ({len(tensors) // 2} "
                        "pairs in the file); was it trained on another model family?")
    label, names = fitting[0]
    modules = {}
    for name, up, down in zip(names, tensors[0::2], tensors[1::2], strict=True):
        modules[kohya_name(family, "unet", name, configs["unet"])] = LoraModule(
            down.float(), up.float(), float(down.shape[0]))
    if text_pt is not None:
        modules.update(_convert_text(Path(text_pt), family, configs))
    return modules, label


def _convert_text(path: Path, family: str, configs: dict[str, dict[str, Any]]
                  ) -> dict[str, LoraModule]:
    tensors = _read_pt(path)
    layers = configs["text_encoder"]["num_hidden_layers"]
    hidden = configs["text_encoder"]["hidden_size"]
    names = [f"text_model.encoder.layers.{i}.self_attn.{p}" for i in range(layers)
             for p in TEXT_ORDER]
    if not _match(tensors, [(n, (hidden, hidden)) for n in names]):
        raise UserError(f"{path.name}: its {len(tensors) // 2} pairs do not fit the text "
                        f"encoder ({len(names)} attention projections of {hidden})")
    return {kohya_name(family, "text_encoder", n): LoraModule(d.float(), u.float(),
                                                               float(d.shape[0]))
            for n, u, d in zip(names, tensors[0::2], tensors[1::2], strict=True)}


_PEFT = re.compile(r"^(unet|text_encoder|text_encoder_2)\.(.+)\.lora_([AB])\.weight$")
_OLD_DIFFUSERS = re.compile(r"^(.+)\.processor\.(to_q|to_k|to_v|to_out)_lora\.(down|up)\.weight$")


def convert_peft(path: Path, family: str, configs: dict[str, dict[str, Any]]
                 ) -> dict[str, LoraModule]:
    """diffusers/peft LoRA safetensors (`unet.….lora_A.weight`, or old attention-processor
    names) → kohya modules. Alpha from `.alpha` keys when present, else rank."""
    from lora_for_dummies.checkpoints.reader import CheckpointFile

    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    alphas: dict[tuple[str, str], float] = {}
    with CheckpointFile(path) as file:
        for key in file.keys():
            match = _PEFT.match(key)
            if match:
                part, module, which = match.groups()
                pairs.setdefault((part, module), {}).update(
                    {"down" if which == "A" else "up": file.get(key)})
                continue
            match = _OLD_DIFFUSERS.match(key)
            if match:
                block, proj, which = match.groups()
                module = f"{block}.{'to_out.0' if proj == 'to_out' else proj}"
                pairs.setdefault(("unet", module), {})[which] = file.get(key)
            elif key.endswith(".alpha"):
                part, _, module = key[: -len(".alpha")].partition(".")
                alphas[(part, module)] = float(file.get(key).item())
    if not pairs:
        raise UserError(f"{Path(path).name}: no diffusers/peft LoRA keys found")
    modules = {}
    for (part, module), tensors in pairs.items():
        if set(tensors) != {"down", "up"}:
            raise UserError(f"{Path(path).name}: {module} lacks its up or down weight")
        rank = tensors["down"].shape[0]
        name = kohya_name(family, part, module, configs["unet"])
        modules[name] = LoraModule(tensors["down"], tensors["up"], alphas.get((part, module),
                                                                             float(rank)))
    return modules


def convert_to_kohya(sources: list[Path], base: Path, lora_dir: Path, name: str = "",
                     overwrite: bool = False) -> tuple[Path, str, int]:
    """Convert an old `.pt` (its `_txt.pt` found among `sources` or beside it) or a
    diffusers/peft safetensors to a kohya LoRA in `lora_dir`, for the model `base`.

    Returns (written file, what was done, module count). The CLI and the tab both call this.
    """
    from lora_for_dummies.checkpoints.detect import detect_family
    from lora_for_dummies.checkpoints.models import resolve_configs
    from lora_for_dummies.checkpoints.reader import CheckpointFile
    from lora_for_dummies.lora.format import output_path, save_lora
    from lora_for_dummies.lora.metadata import lora_metadata

    paths = [Path(s) for s in sources if s]
    if not paths:
        raise UserError("give the .pt (and its _txt.pt) or a diffusers/peft .safetensors")
    with CheckpointFile(base) as file:
        family = detect_family(file)
        configs = resolve_configs(file, family)
    main = next((p for p in paths if not p.stem.endswith("_txt")), paths[0])
    text = next((p for p in paths if p.stem.endswith("_txt")), None)
    if main.suffix.lower() == ".pt":
        beside = main.with_name(main.stem + "_txt.pt")
        text = text or (beside if beside.exists() else None)
        modules, order = convert_cloneofsimo(main, family, configs, text)
        note = f"converted from {main.name} (dreambooth extension, order: {order})"
    else:
        modules, note = convert_peft(main, family, configs), f"converted from {main.name}"
    out = output_path(lora_dir, name or main.stem)
    rank = max(m.rank for m in modules.values())
    out.parent.mkdir(parents=True, exist_ok=True)  # the Lora folder itself, never deeper
    save_lora(out, modules, lora_metadata(family, out.stem, rank, rank, comment=note),
              overwrite=overwrite)
    return out, note, len(modules)
