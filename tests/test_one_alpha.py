"""One alpha per file: every writer folds each module's own scale into its up weights, so a
loader that keeps one alpha (diffusers) and one that reads each (A1111, ComfyUI, kohya) make
the same change. diffusers itself applying such files is tests/test_diffusers_consumer.py
("extracted dynamic rank"); here: the fold keeps every delta, the writers use it, and an older
file with several alphas is flagged and re-saved."""

from __future__ import annotations

import json

import torch
from safetensors.torch import load_file, save_file
from test_lora_tools import _random_modules

from lora_for_dummies.cli import main
from lora_for_dummies.lora import tools
from lora_for_dummies.lora.format import LoraModule, load_lora, lora_state, one_alpha, save_lora
from lora_for_dummies.lora.metadata import lora_metadata


def _dynamic(seed: int = 0) -> dict[str, LoraModule]:
    """Modules of ranks 1 … 4 with alpha = rank (what dynamic extraction wrote before), one
    module at alpha 0.5 (a LoCon's conv alpha, say)."""
    modules = {}
    for index, (name, module) in enumerate(sorted(_random_modules(seed=seed).items())):
        rank = 1 + index % 4
        modules[name] = LoraModule(module.down[:rank], module.up[:, :rank], float(rank))
    first = sorted(modules)[0]
    modules[first] = LoraModule(modules[first].down, modules[first].up, 0.5)
    return modules


def _deltas(modules: dict[str, LoraModule]) -> dict[str, torch.Tensor]:
    return {name: m.delta() for name, m in modules.items()}


def test_one_alpha_keeps_every_delta_and_picks_the_most_common():
    modules = _dynamic()
    folded, alpha = one_alpha(modules)
    counts = {a: sum(m.alpha == a for m in modules.values()) for a in {1.0, 2.0, 3.0, 4.0}}
    assert alpha == max(counts, key=lambda a: (counts[a], a))
    assert {m.alpha for m in folded.values()} == {alpha}
    for name, delta in _deltas(modules).items():
        assert torch.allclose(folded[name].delta(), delta, rtol=1e-5, atol=1e-6), name
        if modules[name].alpha == alpha:  # the most common ones are written untouched
            assert folded[name] is modules[name]


def test_a_file_of_one_alpha_is_left_as_it_is():
    modules = _random_modules()
    folded, alpha = one_alpha(modules)
    assert alpha == 2.0 and all(folded[n] is modules[n] for n in modules)


def test_save_lora_writes_one_alpha_and_says_which(tmp_path):
    modules = _dynamic()
    metadata = lora_metadata("sd1", "dyn", 4, 4.0)
    path = save_lora(tmp_path / "dyn.safetensors", modules, metadata)
    state = load_file(str(path))
    alphas = {float(v) for k, v in state.items() if k.endswith(".alpha")}
    written, meta = load_lora(path)
    assert alphas == {next(iter(written.values())).alpha}
    assert meta["ss_network_alpha"] == str(float(alphas.pop()))
    for name, delta in _deltas(modules).items():
        assert torch.allclose(written[name].delta(), delta, rtol=1e-5, atol=1e-6), name


def test_an_older_file_with_several_alphas_is_flagged_and_rescale_at_1_resaves_it(
        tmp_path, capsys):
    modules = _dynamic(seed=3)
    old = tmp_path / "old dynamic.safetensors"
    # Written as before: each module its own alpha (save_lora would fold them).
    save_file(lora_state(modules), str(old), metadata=lora_metadata("sd1", "old", 4, 4.0))
    warnings = tools.lora_info(old).warnings
    assert any("different alphas" in w and "Re-save for diffusers" in w for w in warnings)

    new = tmp_path / "for diffusers.safetensors"
    assert main(["rescale", str(old), "1", "--output", str(new)]) == 0
    capsys.readouterr()
    assert main(["lora-info", str(new), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert len(info["alphas"]) == 1
    assert not any("different alphas" in w for w in info["warnings"])
    resaved, _ = load_lora(new)
    for name, delta in _deltas(modules).items():  # fp16 on save: same change to its rounding
        error = float((resaved[name].delta() - delta).norm() / delta.norm())
        assert error < 2e-3, (name, error)
