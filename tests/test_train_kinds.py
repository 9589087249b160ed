"""Every kind of LoRA trains and loads at the strength it was trained at: LoRA / LoCon, DoRA,
LoHa, LoKr and full, on tiny SD1 and SDXL with real peft layers and real files.

The strength test: the trained network's own weight change (peft's `get_delta_weight`, or the
parametrized weight for DoRA and full) must equal what a loader makes of the saved file,
module by module — the loader being the kinds' formulas as A1111 1.10's `network_*.py` and
ComfyUI's `weight_adapter/` compute them (`lora.kinds`), put on fresh base models by the
webui-style patcher and by the checkpoint merge; and every module must be placed by each
re-stated loader's name rules (A1111, Forge, Forge Neo, ComfyUI)."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from train_fixtures import tiny_job

from lora_for_dummies.checkpoints.models import load_models
from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.errors import UserError
from lora_for_dummies.families import get_family
from lora_for_dummies.lora.apply import merge_into_state
from lora_for_dummies.lora.format import load_modules, save_lora
from lora_for_dummies.lora.kinds import TRAINABLE
from lora_for_dummies.lora.targets import extraction_targets
from lora_for_dummies.lora.tools import lora_info
from lora_for_dummies.train import network as net
from lora_for_dummies.train.config import NetworkConfig
from lora_for_dummies.train.loop import Trainer

FILE_KEYS = {  # the parameter names each kind writes (the LyCORIS layout the webuis load)
    "lora": {"lora_down.weight", "lora_up.weight", "alpha"},
    "dora": {"lora_down.weight", "lora_up.weight", "alpha", "dora_scale"},
    "loha": {"hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b", "alpha"},
    "lokr": {"lokr_w1", "lokr_w2", "lokr_w2_a", "lokr_w2_b", "alpha"},  # alpha: low-rank w2
    "full": {"diff"},
}
LABELS = {"lora": "LoRA", "dora": "DoRA", "loha": "LoHa", "lokr": "LoKr", "full": "full"}


def _trained_change(layer) -> torch.Tensor:
    """What the trained layer adds to its base weight, as the training library computes it
    (DoRA: the decomposition written out, `_dora_weight`; its forward is checked against that
    in test_dora_is_the_input_axis_decomposition_a1111_applies)."""
    if hasattr(layer, "get_delta_weight"):  # a peft tuner layer (LoRA, LoHa, LoKr)
        return layer.get_delta_weight("default").detach().float()
    if hasattr(layer, "dora_scale"):
        return (_dora_weight(layer) - layer.base.weight.float()).detach()
    return (layer.weight - layer.parametrizations.weight.original).detach().float()


def _dora_weight(layer) -> torch.Tensor:
    """W' = m · (W + s·up·down) / ‖W + s·up·down‖ per input column (A1111 1.10 network.py
    `apply_weight_decompose`), written out here on its own."""
    weight = layer.base.weight.float()
    up, down = layer.lora_up.weight.float(), layer.lora_down.weight.float()
    merged = weight + (up.flatten(1) @ down.flatten(1)).reshape(weight.shape) * layer.scale
    ones = [1] * (weight.dim() - 2)
    columns = merged.transpose(0, 1).reshape(weight.shape[1], -1).norm(dim=1)
    return merged * (layer.dora_scale.reshape(1, -1, *ones) / columns.reshape(1, -1, *ones))


def _network(tiny_models, family: str, kind: str, rank: int):
    """Base models with the kind's trainable layers on the UNet and text encoder(s), moved off
    their start (a step-0 LoRA changes nothing) by a seeded random step."""
    torch.manual_seed(0)
    trained = load_models(tiny_models[family])
    network = NetworkConfig(kind=kind, rank=rank, alpha=rank / 2, conv_rank=2, conv_alpha=1.0)
    adapted = {}
    for component in ("unet", *get_family(family).text_component_names):
        model = trained.models[component]
        model.requires_grad_(False)
        adapted[component] = net.inject_lora(model, component, network, 0, family)
        with torch.no_grad():
            for parameter in net.lora_parameters(model):
                parameter.add_(torch.randn_like(parameter) * 0.05)
    return trained, adapted


@pytest.mark.parametrize("family", ["sd1", "sdxl"])
@pytest.mark.parametrize("kind,rank", [("lora", 4), ("dora", 4), ("loha", 4), ("lokr", 2),
                                       ("lokr", 8), ("full", 4)])
def test_the_file_makes_the_trained_change_in_every_loader(tiny_models, tmp_path, family, kind,
                                                           rank):
    trained, adapted = _network(tiny_models, family, kind, rank)
    modules = net.network_modules(family, adapted, trained.models, trained.configs["unet"],
                                  kind)
    path = save_lora(tmp_path / f"{kind}.safetensors", modules, {"ss_network_module": "x"})
    with CheckpointFile(path) as file:
        per_module: dict[str, set[str]] = {}
        for key in file.keys():
            module, parameter = key.split(".", 1)
            per_module.setdefault(module, set()).add(parameter)
    for parameters in per_module.values():
        assert parameters <= FILE_KEYS[kind], parameters
        # alpha on every module with a rank; none on full, nor on a LoKr of whole factors
        assert ("alpha" in parameters) == (kind != "full" and "lokr_w1" not in parameters
                                           or "lokr_w2_b" in parameters), parameters
    loaded, _ = load_modules(path)
    assert len(loaded) == sum(len(names) for names in adapted.values())
    spec = get_family(family)
    # 1. the webui-style patcher on fresh base models: every layer as trained (fp32 rounding)
    fresh, base = load_models(tiny_models[family]), load_models(tiny_models[family])
    patcher = spec.lora_patcher({c: fresh.models[c] for c in adapted}, fresh.configs)
    patcher.apply(loaded, 1.0)
    for component, names in adapted.items():
        for name in names:
            change = _trained_change(trained.models[component].get_submodule(name))
            applied = fresh.models[component].get_submodule(name).weight - \
                base.models[component].get_submodule(name).weight
            assert float(change.norm()) > 0, name
            assert torch.allclose(applied, change, rtol=1e-4, atol=1e-6), (component, name)
    # 2. the same file merged into the checkpoint's own weights (the bake, A1111's merge)
    with CheckpointFile(tiny_models[family]) as file:
        state = {k: file.get(k) for k in file.keys()}
    merged, unmatched = merge_into_state(state, loaded, family, fresh.configs)
    assert unmatched == []
    keys = {t.key for t in extraction_targets(family, fresh.configs, True, True)
            if t.name in loaded}
    assert sum(not torch.equal(merged[k], state[k]) for k in keys) == len(keys)
    # 3. every module placed by each re-stated loader's name rules
    per_host = spec.unmatched_per_host(list(loaded), tiny_models[family], fresh.configs)
    assert per_host and all(names == [] for names in per_host.values()), per_host
    # 4. lora-info names the kind (LoCon for the LoRA convolutions)
    info = lora_info(path)
    assert LABELS[kind] in info.kinds and info.modules == len(loaded)


def test_dora_is_the_input_axis_decomposition_a1111_applies(tiny_models):
    """The DoRA layer's forward (input channels scaled, no changed weight built) equals the
    layer with the decomposed weight W' itself, on linear and conv layers."""
    import torch.nn.functional as F

    trained, adapted = _network(tiny_models, "sd1", "dora", 4)
    g = torch.Generator().manual_seed(3)
    for name in adapted["unet"][:3] + adapted["unet"][-3:]:  # linear and conv layers
        layer = trained.models["unet"].get_submodule(name)
        base = layer.base
        assert tuple(layer.dora_scale.shape[:2]) == (1, base.weight.shape[1])  # [1, in], ≥ 2-D
        expected_weight = _dora_weight(layer)
        if isinstance(base, torch.nn.Conv2d):
            x = torch.randn(1, base.in_channels, 8, 8, generator=g)
            expected = F.conv2d(x, expected_weight, base.bias, base.stride, base.padding,
                                base.dilation)
        else:
            x = torch.randn(2, 5, base.in_features, generator=g)
            expected = F.linear(x, expected_weight, base.bias)
        with torch.no_grad():
            assert torch.allclose(layer(x), expected, rtol=1e-4, atol=1e-5), name


@pytest.mark.parametrize("kind", [k for k in TRAINABLE if k != "lora"])
def test_train_each_kind_end_to_end(tiny_models, tmp_path, kind):
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=2,
                   network={"kind": kind, "rank": 4, "alpha": 2.0, "conv_rank": 2},
                   optimizer={"unet_lr": 1e-2, "text_encoder_lr": 1e-2})
    result = Trainer(job, tmp_path / "Lora").run()
    assert result.step == 2 and "self-check passed" in result.message, result.message
    path = tmp_path / "Lora" / "tiny.safetensors"
    info = lora_info(path)
    assert set(info.kinds) == {LABELS[kind]}, info.kinds
    metadata = info.metadata
    assert metadata["ss_network_module"] == "lycoris.kohya"
    args = json.loads(metadata["ss_network_args"])
    assert args["algo"] == {"dora": "lora", "full": "full"}.get(kind, kind)
    assert args["conv_dim"] == "2" and (kind != "dora" or args["dora_wd"] == "True")
    check = json.loads((tmp_path / "Lora" / "tiny.selfcheck.json").read_text())
    assert check["passed"] and check["image_difference"] > 0
    loaded, _ = load_modules(path)
    assert any(float(m.delta(_layer_weight(tiny_models, n)).abs().max()) > 0
               for n, m in list(loaded.items())[:20])  # it learned something


def _layer_weight(tiny_models, kohya_name: str) -> torch.Tensor:
    base = load_models(tiny_models["sd1"])
    patcher = get_family("sd1").lora_patcher(base.models, base.configs)
    return patcher.layers[kohya_name].weight


def test_dora_resume_gives_the_same_file(tiny_models, tmp_path):
    network = {"kind": "dora", "rank": 4, "alpha": 2.0}
    straight_dir, split_dir = tmp_path / "straight", tmp_path / "split"
    Trainer(tiny_job(tiny_models["sd1"], straight_dir, steps=4, network=network),
            straight_dir).run()
    trainer = Trainer(tiny_job(tiny_models["sd1"], split_dir, steps=4, network=network),
                      split_dir)
    real_step = trainer.reporter.step

    def stop_after_two(done, text=""):
        real_step(done, text)
        if done == 2:
            trainer.reporter.request_stop()

    trainer.reporter.step = stop_after_two
    assert trainer.run().step == 2
    resumed = Trainer(tiny_job(tiny_models["sd1"], split_dir, steps=4, network=network),
                      split_dir).run(resume=True)
    assert resumed.step == 4
    a, _ = load_modules(straight_dir / "Lora" / "tiny.safetensors")
    b, _ = load_modules(split_dir / "Lora" / "tiny.safetensors")
    for name in a:
        for parameter, tensor in a[name].tensors.items():
            assert torch.allclose(tensor, b[name].tensors[parameter], atol=1e-3), name
    # The same run resumed as another kind is refused, not silently started from nothing.
    with pytest.raises(UserError, match="would train another LoRA: network.kind: 'dora' → "
                                        "'loha'"):
        Trainer(tiny_job(tiny_models["sd1"], split_dir, steps=6,
                         network=dict(network, kind="loha")), split_dir).run(resume=True)


def test_a_bad_kind_is_one_line_and_flux_trains_lora_only(tiny_models, tmp_path):
    job = tiny_job(tiny_models["sd1"], tmp_path, network={"kind": "lycoris"})
    with pytest.raises(UserError, match=r"network.kind \(kind of LoRA\) must be one of lora, "
                                        r"dora, loha, lokr, full, not 'lycoris'"):
        job.validate()
    flux = tiny_job(tiny_models["sd1"], tmp_path, network={"kind": "lokr",
                                                          "train_text_encoder": False})
    assert "Flux trains the lora kind only here, not lokr" in get_family("flux").refuse_job(flux)


@pytest.mark.parametrize("kind", ["dora", "loha", "lokr", "full"])
def test_diffusers_cannot_apply_the_lycoris_kinds_and_lora_info_says_so(tiny_models, tmp_path,
                                                                        kind):
    """What diffusers does with each kind, measured, so lora-info's line stays true: no loader
    for LoHa / LoKr / full (ValueError), DoRA's dora_scale dropped with a warning."""
    from diffusers.utils import USE_PEFT_BACKEND

    trained, adapted = _network(tiny_models, "sd1", kind, 4)
    modules = net.network_modules("sd1", adapted, trained.models, trained.configs["unet"], kind)
    path = save_lora(tmp_path / f"{kind}.safetensors", modules, {})
    lines = [w for w in lora_info(path).warnings if w.startswith("diffusers cannot apply")]
    assert len(lines) == 1 and LABELS[kind] in lines[0]
    if not USE_PEFT_BACKEND:
        pytest.skip("webui set: diffusers' loader needs transformers > 4.33")
    from diffusers_check import pipeline

    pipe = pipeline(load_models(tiny_models["sd1"]))
    if kind == "dora":
        from diffusers.utils import logging

        logging.set_verbosity_warning()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipe.load_lora_weights(str(path.parent), weight_name=path.name)
        assert not any("dora_scale" in name for name, _ in pipe.unet.named_parameters())
        return
    with pytest.raises(ValueError, match="have not been correctly renamed"):
        pipe.load_lora_weights(str(path.parent), weight_name=path.name)


def test_a_saved_state_of_another_network_is_refused(tiny_models):
    """`load_state_dict(strict=False)` would load nothing in silence; `load_lora_state` says."""
    trained, _ = _network(tiny_models, "sd1", "loha", 4)
    unet = trained.models["unet"]
    other, _ = _network(tiny_models, "sd1", "lokr", 4)
    with pytest.raises(UserError, match="cannot resume: the saved state holds another network"):
        net.load_lora_state(unet, net.lora_state(other.models["unet"]))
    net.load_lora_state(unet, net.lora_state(unet))  # its own state goes back


def test_the_kind_from_the_command_line(tiny_models, tmp_path):
    """`lfd train job.toml --set network.kind=loha` trains a LoHa; a kind that does not exist
    is one line and exit code 2."""
    import subprocess
    import sys
    from pathlib import Path

    from lora_for_dummies.config import save_toml

    root = Path(__file__).resolve().parent.parent
    save_toml(tiny_job(tiny_models["sd1"], tmp_path, steps=2, samples={"enabled": False}),
              tmp_path / "job.toml")
    command = [sys.executable, "-m", "lora_for_dummies", "train", str(tmp_path / "job.toml"),
               "--set"]
    bad = subprocess.run(command + ["network.kind=lycoris"], cwd=root, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0, bad.stderr
    assert "must be one of lora, dora, loha, lokr, full, not 'lycoris'" in bad.stderr
    good = subprocess.run(command + ["network.kind=loha"], cwd=root, capture_output=True,
                          text=True, timeout=600)
    assert good.returncode == 0, good.stderr[-2000:]
    assert set(lora_info(tmp_path / "Lora" / "tiny.safetensors").kinds) == {"LoHa"}
