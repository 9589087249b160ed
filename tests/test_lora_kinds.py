"""The LoRA kinds registry reads every kind of file people share: LyCORIS LoHa / LoKr / full /
DoRA files in the layout the webuis load (parameter names as A1111 1.10's network_hada.py,
network_lokr.py, network_full.py and network.py read them), on a real model's kohya module
names. `lora-info` names each kind; the LoRA tools refuse a kind they cannot work on by name."""

from __future__ import annotations

import importlib

import pytest
import torch
from safetensors.torch import save_file
from test_lora_tools import _random_modules

from lora_for_dummies.cli import main
from lora_for_dummies.lora import kinds, tools
from lora_for_dummies.lora.metadata import lora_metadata

RANK = 4


def _layout(kind: str, out_features: int, in_features: int, g: torch.Generator
            ) -> dict[str, torch.Tensor]:
    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g)

    if kind == "loha":
        return {"hada_w1_a": randn(out_features, RANK), "hada_w1_b": randn(RANK, in_features),
                "hada_w2_a": randn(out_features, RANK), "hada_w2_b": randn(RANK, in_features),
                "alpha": torch.tensor(2.0)}
    if kind == "lokr":  # w1 whole (4 × 4), w2 low-rank: LyCORIS' usual factor split
        return {"lokr_w1": randn(4, 4), "lokr_w2_a": randn(out_features // 4, RANK),
                "lokr_w2_b": randn(RANK, in_features // 4), "alpha": torch.tensor(2.0)}
    if kind == "full":
        return {"diff": randn(out_features, in_features), "diff_b": randn(out_features)}
    if kind == "dora":  # LyCORIS writes the scale 2-D, [1, in]
        return {"lora_down.weight": randn(RANK, in_features),
                "lora_up.weight": randn(out_features, RANK), "alpha": torch.tensor(2.0),
                "dora_scale": randn(1, in_features).abs()}
    raise AssertionError(kind)


def _lycoris_file(path, kind: str):
    g = torch.Generator().manual_seed(0)
    state = {}
    names = sorted(_random_modules())  # real kohya names of the tiny SD1 UNet
    for name, module in sorted(_random_modules().items()):
        out_features, in_features = module.up.shape[0], module.down.shape[1]
        for parameter, tensor in _layout(kind, out_features, in_features, g).items():
            state[f"{name}.{parameter}"] = tensor
    metadata = lora_metadata("sd1", path.stem, RANK, 2.0)
    metadata["ss_network_module"] = "lycoris.kohya"
    save_file(state, str(path), metadata=metadata)
    return path, len(names)


LABELS = {"loha": "LoHa", "lokr": "LoKr", "full": "full", "dora": "DoRA"}


@pytest.mark.parametrize("kind", list(LABELS))
def test_lora_info_names_each_kind(tmp_path, kind, capsys):
    path, count = _lycoris_file(tmp_path / f"{kind} style.safetensors", kind)
    info = tools.lora_info(path)
    assert info.kinds == {LABELS[kind]: count} and info.modules == count
    assert info.parts == {"unet": count}
    assert info.ranks == ([] if kind == "full" else [RANK])
    assert info.alphas == ([] if kind == "full" else [2.0])
    assert any(w.startswith(f"{LABELS[kind]}: ") for w in info.warnings)

    assert main(["lora-info", str(path)]) == 0
    assert f"kinds: {LABELS[kind]} {count}" in capsys.readouterr().out


@pytest.mark.parametrize("kind", list(LABELS))
def test_the_tools_refuse_a_kind_they_cannot_work_on_by_name(tmp_path, kind, capsys):
    path, _ = _lycoris_file(tmp_path / f"{kind}.safetensors", kind)
    out = tmp_path / "out.safetensors"
    assert main(["resize", str(path), "--rank", "2", "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"holds {LABELS[kind]} modules (LyCORIS)" in err
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("kind", list(LABELS))
def test_rescale_bakes_a_strength_into_every_kind_but_dora(tmp_path, kind, capsys):
    from lora_for_dummies.lora.format import load_modules, relative_error

    path, count = _lycoris_file(tmp_path / f"{kind}.safetensors", kind)
    out = tmp_path / "half.safetensors"
    code = main(["rescale", str(path), "0.5", "--output", str(out)])
    if kind == "dora":  # renormalised: no file is "this one at 0.5"
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.count("\n") == 0 and "cannot be rescaled" in err
        assert not out.exists()
        return
    assert code == 0
    before, _ = load_modules(path)
    after, metadata = load_modules(out)
    assert len(after) == count and "strength baked ×0.5" in metadata["ss_training_comment"]
    for name, module in before.items():  # fp16 file: rounding only
        assert relative_error(0.5 * module.delta(), after[name].delta()) < 2e-3, name
    assert tools.lora_info(out).kinds == {LABELS[kind]: count}


def test_our_own_locon_is_told_apart_from_lora(tmp_path):
    """A LoCon is a LoRA whose down is a k×k conv: one kind, two labels."""
    g = torch.Generator().manual_seed(1)
    state = {"lora_unet_a.lora_down.weight": torch.randn(2, 8, generator=g),
             "lora_unet_a.lora_up.weight": torch.randn(8, 2, generator=g),
             "lora_unet_b.lora_down.weight": torch.randn(2, 8, 3, 3, generator=g),
             "lora_unet_b.lora_up.weight": torch.randn(8, 2, 1, 1, generator=g)}
    found = kinds.file_kinds({k: tuple(v.shape) for k, v in state.items()})
    assert kinds.kinds_line(found) == {"LoCon": 1, "LoRA": 1}


def test_every_kind_is_one_module_behind_the_registry():
    """Each plug-in has the whole interface the registry's docstring names."""
    for name in kinds.PLUGINS:
        module = importlib.import_module(f"lora_for_dummies.lora.kinds.{name}")
        assert module.KIND.key == name and module.KIND.what and module.KIND.marks
        for function in ("delta", "inject", "file_module", "kohya_network"):
            assert callable(getattr(module, function)), (name, function)
        assert module.scaled is None or callable(module.scaled)
        assert module.TRAINED and isinstance(module.RANK_LIMITED, bool)
    assert set(kinds.TRAINABLE) == set(kinds.PLUGINS)
    assert [k.key for k in kinds.kinds()] == list(kinds.PLUGINS)
