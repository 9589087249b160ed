"""Run by the webui's extension installer at start-up (and by "Install from URL").

Installs only what is missing and never changes the version of an installed package: pip runs
with a constraints file that holds every installed distribution at its current version, so a
dependency that would need an upgrade makes pip fail (reported) instead of breaking the webui,
which re-installs its own pins at every start. `--skip-install` is honoured.
"""

from __future__ import annotations

import os
import sys
import tempfile
from importlib import metadata

# The newest pair that imports and trains on A1111 1.10's pins (transformers 4.30.2). Hosts with
# a newer transformers (Forge: 4.46, Forge Neo: 4.57) get the newest release that installs
# beside their pins: the constraints file below holds everything installed, so pip picks it.
PINNED_FOR_A1111 = {"diffusers": "diffusers==0.31.0", "peft": "peft==0.13.2"}
UNPINNED = {"diffusers": "diffusers>=0.31.0", "peft": "peft>=0.13.2"}
NEWER_HOST_TRANSFORMERS = (4, 46)


def _release(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:3]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def requirements_for(installed: dict[str, str]) -> dict[str, str]:
    newer = _release(installed.get("transformers", "0")) >= NEWER_HOST_TRANSFORMERS
    requirements = dict(UNPINNED if newer else PINNED_FOR_A1111)
    if sys.version_info < (3, 11):  # job files are TOML; tomllib arrived in Python 3.11
        requirements["tomli"] = "tomli>=1.1"
    return requirements


def installed_distributions() -> dict[str, str]:
    versions = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            versions[name.lower().replace("_", "-")] = dist.version
    return versions


def missing_requirements(installed: dict[str, str]) -> list[str]:
    return [spec for name, spec in requirements_for(installed).items() if name not in installed]


# Optional: what one feature needs (WD14 tagging), installed in a pip call of its own so that a
# failure leaves the rest working (the feature then shows itself unavailable with the reason).
# onnxruntime comes in several distributions of the same module; adding the CPU one beside
# onnxruntime-gpu would overwrite its files, so any of them counts as present.
ONNXRUNTIME = "onnxruntime>=1.17"
ONNXRUNTIME_BUILDS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml",
                      "onnxruntime-openvino", "onnxruntime-silicon", "ort-nightly",
                      "ort-nightly-gpu")


def missing_optional(installed: dict[str, str]) -> list[str]:
    return [] if any(name in installed for name in ONNXRUNTIME_BUILDS) else [ONNXRUNTIME]


def _valid_version(version: str) -> bool:
    """A PEP 440 version pip accepts in a constraint: local parts (`2.1.2+cu121`, the webui's
    CUDA torch) and dev releases included; only unparseable legacy strings are left out."""
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:  # pip vendors packaging; a bare interpreter may not have it
        import re

        return re.fullmatch(r"[0-9]+(\.[0-9]+)*([._-]?(a|b|rc|post|dev)[0-9]*)*(\+[\w.]+)?",
                            version) is not None
    try:
        Version(version)
    except InvalidVersion:
        return False
    return True


def constraints_text(installed: dict[str, str]) -> str:
    """Pin every installed package to its exact version, local versions included: without
    `torch==2.1.2+cu121` held, a dependency wanting a newer torch would replace the webui's CUDA
    build with PyPI's."""
    lines = [f"{name}=={version}" for name, version in sorted(installed.items())
             if _valid_version(version)]
    return "\n".join(lines) + "\n"


def skip_requested(argv: list[str]) -> bool:
    # The webui runs installers as `python install.py`; its own flags are in COMMANDLINE_ARGS.
    flags = argv + os.environ.get("COMMANDLINE_ARGS", "").split()
    return "--skip-install" in flags or os.environ.get("LFD_SKIP_INSTALL") == "1"


def main(run_pip=None, argv=None) -> list[str]:
    """Install what is missing; return the specs installed (or that would have been)."""
    argv = sys.argv if argv is None else argv
    installed = installed_distributions()
    groups = [group for group in (missing_requirements(installed), missing_optional(installed))
              if group]
    missing = [spec for group in groups for spec in group]
    if not missing:
        return []
    if skip_requested(argv):
        print(f"[LoRA for Dummies] --skip-install: not installing {', '.join(missing)}; the tab "
              "will show the command to run.")
        return []
    if run_pip is None:
        import launch  # the webui's installer helpers

        run_pip = launch.run_pip
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write(constraints_text(installed))
        constraints = handle.name
    try:
        for group in groups:
            _install(run_pip, group, constraints)
    finally:
        os.unlink(constraints)
    return missing


def _install(run_pip, specs: list[str], constraints: str) -> None:
    try:
        run_pip(f'install {" ".join(specs)} --constraint "{constraints}"',
                f"LoRA for Dummies requirements: {', '.join(specs)}")
        print(f"[LoRA for Dummies] installed {', '.join(specs)} (no installed package changed)")
    except Exception as err:  # launch.run_pip raises RuntimeError with pip's output
        print(f"[LoRA for Dummies] could not install {', '.join(specs)} without changing "
              f"packages the webui uses; the tab shows what to do. ({str(err)[:300]})")


if __name__ == "__main__":
    main()
