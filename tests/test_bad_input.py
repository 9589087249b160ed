"""Bad files give one line naming the file and the reason; nothing else breaks."""

from __future__ import annotations

import pickle
import shutil
import struct

import pytest
import torch

from lora_for_dummies.checkpoints.detect import inspect_checkpoint
from lora_for_dummies.checkpoints.models import load_models
from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.errors import CheckpointError


def _message(path) -> str:
    with pytest.raises(CheckpointError) as err:
        inspect_checkpoint(path)
    text = str(err.value)
    assert "\n" not in text and text.startswith(path.name + ": ")
    return text


def test_missing_file(tmp_path):
    assert "file not found" in _message(tmp_path / "nope.safetensors")


def test_directory_instead_of_file(tmp_path):
    folder = tmp_path / "model.safetensors"
    folder.mkdir()
    assert "is a folder" in _message(folder)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.touch()
    assert "empty" in _message(path)


def test_truncated_safetensors(tiny_models, tmp_path):
    path = tmp_path / "cut.safetensors"
    path.write_bytes(tiny_models["sd1"].read_bytes()[: 3 * 1024 * 1024])
    assert "truncated" in _message(path)


def test_corrupt_header(tmp_path):
    path = tmp_path / "bad header.safetensors"
    junk = b"{not json at all" + b" " * 16
    path.write_bytes(struct.pack("<Q", len(junk)) + junk + b"\0" * 64)
    assert "corrupt" in _message(path)


def test_header_length_past_end(tmp_path):
    path = tmp_path / "short.safetensors"
    path.write_bytes(struct.pack("<Q", 10**9) + b"{}")
    assert "header length" in _message(path)


class _Exploit:
    def __reduce__(self):
        import os

        return (os.system, (f"touch {MARKER}",))


MARKER = None


def test_malicious_ckpt_is_refused_and_nothing_runs(tmp_path):
    global MARKER
    MARKER = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    with open(path, "wb") as handle:
        pickle.dump({"state_dict": {"x": _Exploit()}}, handle)
    assert "refused" in _message(path)
    torch_saved = tmp_path / "evil2.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": _Exploit()}, torch_saved)
    assert "refused" in _message(torch_saved)
    assert not MARKER.exists()


def test_webui_safe_unpickler_returning_none(tmp_path, tiny_models, monkeypatch):
    # Inside the webui torch.load is replaced by a checker that prints and returns None.
    monkeypatch.setattr(torch, "load", lambda *a, **k: None)
    assert "safe unpickler" in _message(tiny_models["sd1_ckpt"])


def test_text_file_named_ckpt(tmp_path):
    path = tmp_path / "notes.ckpt"
    path.write_text("this is not a model\n")
    assert "cannot be read" in _message(path) or "refused" in _message(path)


def test_unicode_and_spaces_in_paths(tiny_models, tmp_path):
    folder = tmp_path / "mödels with spaces" / "日本語"
    folder.mkdir(parents=True)
    path = folder / "my model (final) ✓.safetensors"
    shutil.copy(tiny_models["sd1"], path)
    assert inspect_checkpoint(path).family == "sd1"
    assert set(load_models(path, components=["text_encoder"]).models) == {"text_encoder"}


def test_lora_chosen_as_model_for_loading(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "my_lora.safetensors"
    save_file({"lora_te_text_model_encoder_layers_0_mlp_fc1.alpha": torch.tensor(1.0)}, str(path))
    with pytest.raises(CheckpointError, match="this is a LoRA"):
        load_models(path)


def test_incomplete_checkpoint_loading(tiny_models, tmp_path):
    from safetensors.torch import save_file

    with CheckpointFile(tiny_models["sd1"]) as ckpt:
        state = {k: ckpt.get(k) for k in ckpt.keys() if "output_blocks.2." not in k}
    path = tmp_path / "pruned-too-much.safetensors"
    save_file(state, str(path), metadata=CheckpointFile(tiny_models["sd1"]).metadata)
    with pytest.raises(CheckpointError, match="incomplete checkpoint"):
        load_models(path, components=["unet"])
