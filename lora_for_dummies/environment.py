"""Is the installed software able to run us? Checked from package metadata, without importing.

The webui pins many packages and re-installs its pins at every start, so we never change them
ourselves; when one is missing or too old the tab shows the exact command to fix it instead of
failing while the webui builds its UI.
"""

from __future__ import annotations

import sys
from importlib import metadata

# Oldest versions we run on (the webui 1.10 set) — see DESIGN.md "Dependency sets".
MINIMUM = {
    "torch": "2.1",
    "diffusers": "0.31.0",
    "transformers": "4.30.2",
    "accelerate": "0.21.0",
    "peft": "0.13.2",
    "safetensors": "0.4.2",
    "Pillow": "9.5.0",
    "numpy": "1.26",
}
UI_MINIMUM = {"gradio": "3.41.2"}
# What install.py installs into the webui when missing: the newest pair that imports on its pins.
WEBUI_INSTALL = {"diffusers": "0.31.0", "peft": "0.13.2"}


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _parse(version: str) -> tuple[int, ...]:
    numbers = []
    for part in version.split("+")[0].split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits:
            break
        numbers.append(int(digits))
        if not part.isdigit():
            break
    return tuple(numbers)


def is_at_least(version: str, minimum: str) -> bool:
    return _parse(version) >= _parse(minimum)


def check_environment(ui: bool = False) -> list[str]:
    """One line per problem, each with the command that fixes it; empty when all is well."""
    problems = []
    wanted = dict(MINIMUM, **(UI_MINIMUM if ui else {}))
    python = f'"{sys.executable}" -m pip install'
    for name, minimum in wanted.items():
        version = installed_version(name)
        pin = WEBUI_INSTALL.get(name, minimum)
        if version is None:
            problems.append(f"{name} is not installed. Fix: {python} {name}=={pin}")
        elif not is_at_least(version, minimum):
            problems.append(f"{name} {version} is too old (need ≥ {minimum}). Fix: "
                            f"{python} {name}=={pin}" + (" (the webui pins it: update the webui "
                                                         "instead)" if name in (
                                                             "torch", "transformers", "gradio")
                                                         else ""))
    return problems


def available_devices() -> list[str]:
    """The devices a job can run on here: `cpu`, and `cuda` when torch can use a CUDA GPU
    (a choice of "cuda" on a machine without one would only fail at Extract)."""
    try:
        import torch

        return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    except Exception:  # a broken CUDA install must not break the tab
        return ["cpu"]


def check_device(device: str) -> str:
    """`cpu`, `cuda` or `cuda:N` that this machine has; else one line (not torch's traceback)."""
    from lora_for_dummies.errors import UserError

    name, _, index = device.partition(":")
    if name == "cpu" and not index:
        return device
    if name != "cuda" or (index and not index.isdigit()):
        raise UserError(f"device {device!r}: use cpu, cuda or cuda:N")
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise UserError(f"device {device!r}: this machine has no CUDA GPU that torch can use; "
                        "use --device cpu")
    if index and int(index) >= count:
        raise UserError(f"device {device!r}: there are only {count} CUDA device(s)")
    return device
