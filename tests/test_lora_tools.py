"""Conversion of old formats, and rescale / resize / merge / info round trips."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from lora_for_dummies.checkpoints.kohya_names import kohya_name
from lora_for_dummies.checkpoints.models import build_model
from lora_for_dummies.checkpoints.synthetic import model_configs
from lora_for_dummies.errors import UserError
from lora_for_dummies.lora import tools
from lora_for_dummies.lora.convert import (
    TEXT_ORDER,
    UNET_ORDERS,
    _unet_modules,
    convert_cloneofsimo,
    convert_peft,
)
from lora_for_dummies.lora.format import LoraModule, load_lora, save_lora
from lora_for_dummies.lora.lowrank import RankRule
from lora_for_dummies.lora.metadata import lora_metadata

CONFIGS = model_configs("sd1", tiny=True)


def _random_modules(count_rank=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    unet = build_model("unet", CONFIGS["unet"], empty=True)
    modules = {}
    for name, module in list(unet.named_modules()):
        if name.endswith("attn1.to_q") or name.endswith("attn2.to_k"):
            out_features, in_features = module.weight.shape
            modules[kohya_name("sd1", "unet", name)] = LoraModule(
                torch.randn(count_rank, in_features, generator=generator),
                torch.randn(out_features, count_rank, generator=generator), 2.0)
    return modules


def _cloneofsimo_pt(path, order_label, seed=0, rank=4):
    unet = build_model("unet", CONFIGS["unet"], empty=True)
    shapes = dict((n, m.weight.shape) for n, m in unet.named_modules() if hasattr(m, "weight")
                  and m.weight is not None)
    names = _unet_modules(unet, UNET_ORDERS[order_label])
    generator = torch.Generator().manual_seed(seed)
    tensors = []
    for name in names:
        out_features, in_features = shapes[name]
        tensors += [torch.randn(out_features, rank, generator=generator),
                    torch.randn(rank, in_features, generator=generator)]
    torch.save(tensors, path)
    return names, tensors


def test_cloneofsimo_pt_converts_and_reproduces_the_deltas(tmp_path):
    label = "attn1 → attn2 → ff (newer diffusers)"
    names, tensors = _cloneofsimo_pt(tmp_path / "old.pt", label)
    hidden = CONFIGS["text_encoder"]["hidden_size"]
    text = []
    for _ in range(CONFIGS["text_encoder"]["num_hidden_layers"] * len(TEXT_ORDER)):
        text += [torch.randn(hidden, 2), torch.randn(2, hidden)]
    torch.save(text, tmp_path / "old_txt.pt")
    modules, fitted = convert_cloneofsimo(tmp_path / "old.pt", "sd1", CONFIGS,
                                          tmp_path / "old_txt.pt")
    assert fitted == label
    for name, up, down in zip(names, tensors[0::2], tensors[1::2], strict=True):
        module = modules[kohya_name("sd1", "unet", name)]
        assert torch.allclose(module.delta(), up @ down) and module.alpha == 4
    first_text = modules["lora_te_text_model_encoder_layers_0_self_attn_k_proj"]
    assert torch.allclose(first_text.delta(), text[0] @ text[1])


def test_older_order_is_told_apart(tmp_path):
    _cloneofsimo_pt(tmp_path / "older.pt", "attn1 → ff → attn2 (older diffusers)")
    _, fitted = convert_cloneofsimo(tmp_path / "older.pt", "sd1", CONFIGS)
    assert fitted.startswith("attn1 → ff → attn2")


def test_unknown_pt_layouts_are_refused(tmp_path):
    torch.save([torch.randn(5, 2), torch.randn(2, 7)], tmp_path / "wrong.pt")
    with pytest.raises(UserError, match="no known module order fits"):
        convert_cloneofsimo(tmp_path / "wrong.pt", "sd1", CONFIGS)
    torch.save({"some": torch.zeros(1)}, tmp_path / "dict.pt")
    with pytest.raises(UserError, match="unknown layout"):
        convert_cloneofsimo(tmp_path / "dict.pt", "sd1", CONFIGS)


def test_peft_format_converts(tmp_path):
    generator = torch.Generator().manual_seed(3)
    block = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"
    down, up = torch.randn(4, 32, generator=generator), torch.randn(32, 4, generator=generator)
    text = "text_model.encoder.layers.1.mlp.fc1"
    tdown, tup = torch.randn(2, 32, generator=generator), torch.randn(37, 2, generator=generator)
    save_file({f"unet.{block}.lora_A.weight": down, f"unet.{block}.lora_B.weight": up,
               f"text_encoder.{text}.lora_A.weight": tdown,
               f"text_encoder.{text}.lora_B.weight": tup}, str(tmp_path / "peft.safetensors"))
    modules = convert_peft(tmp_path / "peft.safetensors", "sd1", CONFIGS)
    assert torch.allclose(modules[kohya_name("sd1", "unet", block)].delta(), up @ down)
    assert torch.allclose(modules["lora_te_text_model_encoder_layers_1_mlp_fc1"].delta(),
                          tup @ tdown)


def test_rescale_resize_merge_round_trips(tmp_path):
    modules = _random_modules()
    half = tools.rescale(modules, 0.5)
    for name, module in modules.items():
        assert torch.allclose(half[name].delta(), module.delta() * 0.5)
    resized, errors = tools.resize(modules, RankRule(rank=4, exact=True))
    assert max(errors.values()) < 1e-5
    for name, module in modules.items():
        assert torch.allclose(resized[name].delta(), module.delta(), atol=1e-3)
    smaller, errors = tools.resize(modules, RankRule(rank=2))
    assert all(m.rank == 2 for m in smaller.values()) and 0 < max(errors.values()) < 1
    other = _random_modules(seed=1)
    exact = tools.merge([modules, other], [0.7, 0.3])
    for name in modules:
        expected = modules[name].delta() * 0.7 + other[name].delta() * 0.3
        assert torch.allclose(exact[name].delta(), expected, atol=1e-4)
        assert exact[name].rank == 8
    refactored = tools.merge([modules, other], [0.7, 0.3], RankRule(rank=8, exact=True))
    name = next(iter(modules))
    assert torch.allclose(refactored[name].delta(), exact[name].delta(), atol=1e-3)


def test_lora_info_and_warnings(tmp_path):
    modules = _random_modules()
    path = save_lora(tmp_path / "good.safetensors", modules,
                     lora_metadata("sd1", "good", 4, 2.0))
    info = tools.lora_info(path)
    assert info.modules == len(modules) and info.ranks == [4] and info.alphas == [2.0]
    assert info.base_model_version == "sd_v1" and info.parts == {"unet": len(modules)}
    assert any("no text-encoder" in w for w in info.warnings)
    state = {}
    for name, module in modules.items():
        state[name + ".lora_down.weight"] = module.down
        state[name + ".lora_up.weight"] = module.up * float("nan")
    save_file(state, str(tmp_path / "bad.safetensors"))
    bad = tools.lora_info(tmp_path / "bad.safetensors")
    text = " ".join(bad.warnings)
    assert "no metadata" in text and "no alpha" in text and "NaN" in text
    loaded, _ = load_lora(tmp_path / "bad.safetensors")
    assert all(m.alpha == m.rank for m in loaded.values())


def test_save_refuses_overwrite_and_keeps_old_file_when_disk_is_full(tmp_path, monkeypatch):
    modules = _random_modules()
    path = save_lora(tmp_path / "keep.safetensors", modules, {})
    before = path.read_bytes()
    with pytest.raises(UserError, match="already exists"):
        save_lora(path, modules, {})
    import safetensors.torch

    def full_disk(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", full_disk)
    with pytest.raises(UserError, match="no space left on the disk"):  # one line (os_errors)
        save_lora(path, tools.rescale(modules, 0.5), {}, overwrite=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.safetensors"]


def test_convert_end_to_end_from_the_cli_and_the_tab(tiny_models, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from lora_for_dummies.hosts.standalone import StandaloneHost
    from lora_for_dummies.ui.extract_controller import ExtractController

    label = "attention only"
    names, tensors = _cloneofsimo_pt(tmp_path / "old.pt", label)
    out = subprocess.run([sys.executable, "-m", "lora_for_dummies", "convert",
                          str(tmp_path / "old.pt"), "--base", str(tiny_models["sd1"]),
                          "--lora-dir", str(tmp_path / "Lora")],
                         cwd=Path(__file__).resolve().parent.parent, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"{len(names)} modules" in out.stdout
    modules, metadata = load_lora(tmp_path / "Lora" / "old.safetensors")
    assert "order: attention only" in metadata["ss_training_comment"]
    first = modules[kohya_name("sd1", "unet", names[0])]
    assert torch.allclose(first.delta(), tensors[0] @ tensors[1], atol=1e-2)
    host = StandaloneHost(tmp_path / "data")
    (host.models_dir / "base.safetensors").write_bytes(tiny_models["sd1"].read_bytes())
    host.refresh_checkpoints()
    message = ExtractController(host).convert([str(tmp_path / "old.pt")], "base.safetensors",
                                              "from tab", False)
    assert message.endswith("→ from tab.safetensors")
    assert (host.lora_dir() / "from tab.safetensors").exists()


def test_resize_never_raises_a_rank_above_the_source(tmp_path, capsys):
    """Issue 22, finding 6: `resize --rank 64` of a rank-16 LoRA wrote ranks 32 / 64 and a
    file 2.1x bigger. Each module keeps at most its own rank, and the command says so."""
    from lora_for_dummies.cli import main

    source = save_lora(tmp_path / "r16.safetensors", _random_modules(16), {})
    out = tmp_path / "r64.safetensors"
    assert main(["resize", str(source), "--output", str(out), "--rank", "64"]) == 0
    printed = capsys.readouterr().out
    assert "kept their own rank (16)" in printed and "cannot raise a LoRA's rank" in printed
    modules, _ = load_lora(out)
    original, _ = load_lora(source)
    assert {m.rank for m in modules.values()} == {16}
    assert out.stat().st_size <= source.stat().st_size * 1.05
    for name, module in modules.items():  # the same change, exactly enough
        want = original[name].delta()
        assert (module.delta() - want).norm() / want.norm() < 1e-3, name  # fp16 as saved
    resized, _ = tools.resize(original, RankRule(rank=8))
    assert {m.rank for m in resized.values()} == {8}  # lowering still works


def test_merge_help_says_what_rank_0_means(capsys):
    from lora_for_dummies.cli import main

    with pytest.raises(SystemExit):
        main(["merge", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "leave it out (or 0) for an exact merge" in text


def test_a_code_running_pickle_is_refused_in_our_words(tmp_path):
    """Issue 22: a refused state.pt showed torch's text, which advises weights_only=False.
    Every pickle we open (a .ckpt, an old .pt LoRA, a run's state.pt) is refused in our
    words, never suggesting to unpickle, and its code does not run."""
    import os

    from lora_for_dummies.checkpoints.reader import safe_torch_load
    from lora_for_dummies.train.saving import load_state

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    run_dir = tmp_path / "runs" / "x"
    (run_dir / "state").mkdir(parents=True)
    for path in (tmp_path / "evil.ckpt", tmp_path / "evil.pt", run_dir / "state" / "state.pt"):
        torch.save({"state_dict": Payload()} if path.suffix == ".ckpt" else Payload(), path)
    messages = []
    for load in (lambda: safe_torch_load(tmp_path / "evil.ckpt"),
                 lambda: tools_convert_pt(tmp_path / "evil.pt"),
                 lambda: load_state(run_dir)):
        with pytest.raises(UserError) as refused:
            load()
        messages.append(str(refused.value))
    assert not marker.exists()
    for message in messages:
        assert "could run code" in message and "weights_only" not in message, message
        assert "\n" not in message
    assert messages[2].startswith("cannot resume: the run's saved state")


def tools_convert_pt(path):
    from lora_for_dummies.lora.convert import _read_pt

    return _read_pt(path)
