"""Kohya-format LoRA files: `<name>.lora_down.weight`, `<name>.lora_up.weight`, `<name>.alpha`.

A module's weight change is `up @ down * alpha / rank` (convolutions: down is a k×k conv to
`rank` channels, up a 1×1 conv). The real alpha is always written, never left implicit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lora_for_dummies import messages as msg
from lora_for_dummies.atomic import atomic_path, remove_leftovers
from lora_for_dummies.errors import UserError

DOWN, UP, ALPHA = ".lora_down.weight", ".lora_up.weight", ".alpha"
# The same two tensors as diffusers / peft name them (down = A, up = B). Some families' loaders
# take these names best (Z-Image's format in Forge Neo and ComfyUI, `families/zimage/keys.py`);
# every loader we re-state reads both.
PEFT_DOWN, PEFT_UP = ".lora_A.weight", ".lora_B.weight"
PEFT_NAMES = {DOWN[1:]: PEFT_DOWN[1:], UP[1:]: PEFT_UP[1:]}


@dataclass
class LoraModule:
    down: Any  # (rank, in) or (rank, in, k, k)
    up: Any  # (out, rank) or (out, rank, 1, 1)
    alpha: float

    @property
    def rank(self) -> int:
        return int(self.down.shape[0])

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    def delta(self, weight: Any = None) -> Any:
        """The weight change in fp32, shaped like the module's weight (`weight`, the layer's,
        is not needed: the other kinds' `delta` takes it, `lora.kinds.KindModule`)."""
        down = self.down.float().flatten(1)
        up = self.up.float().flatten(1)
        delta = (up @ down) * self.scale
        if self.down.dim() == 4:
            return delta.reshape(self.up.shape[0], *self.down.shape[1:])
        return delta

    def file_tensors(self) -> dict[str, Any]:
        import torch

        return {DOWN[1:]: self.down, UP[1:]: self.up, ALPHA[1:]: torch.tensor(float(self.alpha))}


def output_path(lora_dir: str | Path, name: str) -> Path:
    """`<lora_dir>/<name>.safetensors`; the name may not leave the folder."""
    from lora_for_dummies.names import check_name

    name = name.strip()
    if name.lower().endswith(".safetensors"):
        name = name[: -len(".safetensors")]
    return Path(lora_dir) / f"{check_name(name, 'LoRA name')}.safetensors"


def one_alpha(modules: dict[str, Any]) -> tuple[dict[str, Any], float | None]:
    """The same LoRA with one alpha for every module: each other module's `alpha / alpha_one`
    is folded into its up weights, so every module's delta (`up @ down * alpha / rank`) is
    unchanged. `alpha_one` is the most common alpha (ties: the largest), so most modules are
    written untouched.

    Why: A1111, Forge, ComfyUI and kohya read each module's alpha, but diffusers'
    `load_lora_weights` gives peft one `lora_alpha` and an `alpha_pattern` that misses modules
    (diffusers 0.37.1 and 0.42.1, `utils/peft_utils.get_peft_kwargs`): with per-module alphas,
    165 of 264 modules of a dynamic-rank SD1 file were applied at ×0.125 … ×0.5. With one alpha
    every loader makes the same change (tests/test_one_alpha.py)."""
    from collections import Counter

    # Only plain LoRA modules: the other kinds (LyCORIS) are read by loaders that take each
    # module's alpha, and diffusers reads none of them.
    counts = Counter(float(m.alpha) for m in modules.values() if isinstance(m, LoraModule))
    if not counts:
        return modules, None
    alpha = max(counts, key=lambda value: (counts[value], value))
    return {name: m if not isinstance(m, LoraModule) or float(m.alpha) == alpha else
            LoraModule(m.down, (m.up.float() * (m.alpha / alpha)).to(m.up.dtype), alpha)
            for name, m in modules.items()}, alpha


def lora_state(modules: dict[str, Any], dtype: Any = None, peft_names: bool = False
               ) -> dict[str, Any]:
    """`<module>.<parameter>` → tensor for modules of any kind (`file_tensors`), in `dtype`
    (alphas too, as kohya writes them: in the file's dtype); `peft_names`: a LoRA's down / up
    written as `lora_A` / `lora_B`."""
    state = {}
    for name, module in sorted(modules.items()):
        for parameter, tensor in module.file_tensors().items():
            if peft_names:
                parameter = PEFT_NAMES.get(parameter, parameter)
            state[f"{name}.{parameter}"] = tensor.to(dtype) if dtype else tensor
    return {k: v.contiguous() for k, v in state.items()}


def tensor_hashes(state: dict[str, Any]) -> tuple[str, str]:
    """kohya's `sshs_model_hash` (sha256 of the tensor data) and `sshs_legacy_hash`.

    Both are computed over the file as written without metadata, so they do not change when
    the metadata does.
    """
    import hashlib
    import struct

    from safetensors.torch import save

    data = save(state)
    (header_len,) = struct.unpack("<Q", data[:8])
    model_hash = hashlib.sha256(data[8 + header_len:]).hexdigest()
    legacy = hashlib.sha256(data[0x100000:0x110000]).hexdigest()[:8]
    return model_hash, legacy


def check_finite_state(state: dict[str, Any], what: str) -> None:
    """Every tensor finite, every alpha positive: else nothing is written (the one check that
    every LoRA writer passes through, on the tensors exactly as they will be stored)."""
    import torch

    for key, tensor in state.items():
        if not bool(torch.isfinite(tensor).all()):
            raise UserError(f"{what}: {key} holds NaN or infinity (after conversion to "
                            f"{str(tensor.dtype).replace('torch.', '')}); nothing was written")
        if key.endswith(ALPHA) and float(tensor) <= 0:
            raise UserError(f"{what}: {key} is {float(tensor):g}; alpha must be positive; "
                            "nothing was written")


def save_lora(path: str | Path, modules: dict[str, Any], metadata: dict[str, str],
              dtype: Any = None, overwrite: bool = False, peft_names: bool = False) -> Path:
    """Write atomically; an existing file is kept unless `overwrite` (and intact on failure).

    `modules`: LoRA modules (`LoraModule`) or other kinds' (`lora.kinds.KindModule`). Every
    LoRA module is written with one alpha (`one_alpha`), and the metadata's
    `ss_network_alpha` says which. Refused: another suffix than .safetensors (the data is
    safetensors whatever the name says), a folder that does not exist, any tensor that is not
    finite.
    """
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        raise UserError(f"{path.name}: a LoRA is written as .safetensors; name the output "
                        f"{path.stem}.safetensors")
    if path.exists() and not overwrite:
        raise UserError(f"{path.name} already exists; choose another name or allow overwriting")
    if not modules:
        raise UserError("nothing to save: the LoRA has no modules")
    modules, alpha = one_alpha(modules)
    if alpha is not None:
        metadata = dict(metadata, ss_network_alpha=str(float(alpha)))
    state = lora_state(modules, dtype, peft_names)
    check_finite_state(state, path.name)
    model_hash, legacy = tensor_hashes(state)
    metadata = dict(metadata, sshs_model_hash=model_hash, sshs_legacy_hash=legacy)
    remove_leftovers(path.parent)  # a killed write's temp file (rescale, merge, extract, …)
    with atomic_path(path, create_parent=False) as tmp:
        save_file(state, str(tmp), metadata={k: str(v) for k, v in metadata.items()})
    return path


def copy_lora(source: str | Path, target: str | Path) -> Path:
    """Copy a LoRA file to `target` (e.g. a step file to `<name>.safetensors`), atomically and
    only after the same finite check as `save_lora`: a copy is a write too."""
    import shutil

    from safetensors.torch import load_file

    source, target = Path(source), Path(target)
    check_finite_state(load_file(str(source)), source.name)
    remove_leftovers(target.parent)
    with atomic_path(target, create_parent=False) as tmp:
        shutil.copyfile(source, tmp)
    return target


def load_lora(path: str | Path) -> tuple[dict[str, LoraModule], dict[str, str]]:
    """Read a kohya-format LoRA (down / up named `lora_down` / `lora_up`, or peft's `lora_A` /
    `lora_B`). Modules without an alpha get alpha = rank (scale 1)."""
    from lora_for_dummies.checkpoints.reader import CheckpointFile

    with CheckpointFile(path) as file:
        keys = file.keys()
        peft = not any(k.endswith(DOWN) for k in keys)
        down_name, up_name = (PEFT_DOWN, PEFT_UP) if peft else (DOWN, UP)
        names = sorted({k[: -len(down_name)] for k in keys if k.endswith(down_name)})
        other = other_kinds({k: file.shape(k) for k in keys})
        if other:  # a LyCORIS file: named, not mistaken for a broken LoRA
            raise msg.LYCORIS_NOT_HANDLED.error(file=Path(path).name, kinds=other)
        if not names:
            raise UserError(f"{Path(path).name}: not a kohya-format LoRA (no .lora_down.weight "
                            "keys)")
        modules = {}
        for name in names:
            if name + up_name not in file:
                raise UserError(f"{Path(path).name}: {name} has no lora_up weight")
            down, up = file.get(name + down_name), file.get(name + up_name)
            alpha = float(file.get(name + ALPHA).item()) if name + ALPHA in file else \
                float(down.shape[0])
            modules[name] = LoraModule(down, up, alpha)
        return modules, dict(file.metadata)


def load_modules(path: str | Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Every module of a LoRA file of any kind: `LoraModule` for LoRA / LoCon,
    `lora.kinds.KindModule` for the others (what the self-check and the previews apply)."""
    from lora_for_dummies.checkpoints.reader import CheckpointFile
    from lora_for_dummies.lora.kinds import KindModule, file_kinds

    with CheckpointFile(path) as file:
        found = file_kinds({k: file.shape(k) for k in file.keys()})
        if not found:
            raise UserError(f"{Path(path).name}: not a LoRA file (no module of a kind "
                            "lora-info knows)")
        modules: dict[str, Any] = {}
        for name, (kind, shapes) in found.items():
            tensors = {p: file.get(f"{name}.{p}" if f"{name}.{p}" in file else
                                   f"{name}.{PEFT_NAMES[p]}") for p in shapes if p != ALPHA[1:]}
            alpha = float(file.get(name + ALPHA).item()) if name + ALPHA in file else None
            modules[name] = KindModule(kind.key, tensors, alpha) if kind.key != "lora" else \
                LoraModule(tensors[DOWN[1:]], tensors[UP[1:]],
                           float(tensors[DOWN[1:]].shape[0]) if alpha is None else alpha)
        return modules, dict(file.metadata)


def other_kinds(shapes: dict[str, tuple[int, ...]]) -> str:
    """"LoHa" / "LoKr, DoRA" …: the kinds in a file other than LoRA / LoCon ("" if none)."""
    from lora_for_dummies.lora.kinds import file_kinds, kinds_line, unhandled

    return ", ".join(unhandled(kinds_line(file_kinds(shapes))))


def relative_error(target: Any, approximation: Any) -> float:
    norm = float(target.float().norm())
    if norm == 0:
        return 0.0
    return float((target.float() - approximation.float()).norm()) / norm


def is_finite(module: Any) -> bool:
    """Every tensor and the alpha of a module of any kind finite."""
    import torch

    return all(bool(torch.isfinite(t.float()).all()) for t in module.file_tensors().values())
