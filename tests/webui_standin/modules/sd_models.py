"""modules/sd_models.py (v1.10.1): checkpoints_list {title: CheckpointInfo} and list_models()."""

import os
from pathlib import Path

checkpoints_list = {}


class CheckpointInfo:
    """Title is the path relative to the models folder plus the short hash when known."""

    def __init__(self, filename):
        from modules import paths

        self.filename = filename
        root = os.path.join(paths.models_path, "Stable-diffusion")
        self.name = os.path.relpath(filename, root) if filename.startswith(root) else \
            os.path.basename(filename)
        self.title = self.name


def list_models():
    """Re-scan the models folder (the real one also reads --ckpt-dir and hashes lazily)."""
    from modules import paths

    checkpoints_list.clear()
    root = Path(paths.models_path) / "Stable-diffusion"
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in (".safetensors", ".ckpt"):
            info = CheckpointInfo(str(path))
            checkpoints_list[info.title] = info


events = []  # stand-in only: what was called, for tests


def unload_model_weights(sd_model=None, info=None):
    """Moves the loaded model off the GPU (v1.10.1: modules/sd_models.py)."""
    events.append("unload")


def reload_model_weights(sd_model=None, info=None, forced_reload=False):
    events.append("reload")
