"""Z-Image files end to end (issue 27, first part): the transformer's names and shapes against
diffusers' own model and converter, the loader's key map against ComfyUI's
`z_image_to_diffusers` (tests/data/zimage_comfy_map.json), recognition of every naming, and an
extracted LoRA applied at the file's own strength by the re-stated Forge Neo / ComfyUI rule and
by diffusers' Z-Image loader. Real tiny files, no mocks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from lora_for_dummies import families
from lora_for_dummies.checkpoints.detect import inspect_checkpoint
from lora_for_dummies.cli import main
from lora_for_dummies.errors import CheckpointError
from lora_for_dummies.families.zimage.architecture import FULL_SIZE, ZImageConfig, native_shapes
from lora_for_dummies.families.zimage.consumers import comfy_apply, comfy_key_map
from lora_for_dummies.families.zimage.keys import diffusers_map, extraction_targets
from lora_for_dummies.families.zimage.layout import recognise_zimage
from lora_for_dummies.families.zimage.synthetic import (
    TINY,
    random_transformer,
    save_transformer,
    write_tuned_pair,
)

DATA = Path(__file__).resolve().parent / "data"
torch.set_num_threads(1)


def _zimage_class():
    import diffusers

    if not hasattr(diffusers, "ZImageTransformer2DModel"):
        pytest.skip(f"diffusers {diffusers.__version__} has no Z-Image model (0.36 or later)")
    return diffusers.ZImageTransformer2DModel


def test_native_names_and_shapes_are_diffusers_models_through_its_converter():
    model_class = _zimage_class()
    from diffusers.loaders.single_file_utils import (
        convert_z_image_transformer_checkpoint_to_diffusers as convert,
    )

    for config in (TINY, ZImageConfig(dim=96, n_layers=3, n_refiner_layers=2, n_heads=3,
                                      cap_feat_dim=40)):
        model = model_class(**config.diffusers_config())
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        native = {k: torch.zeros(s) for k, s in native_shapes(config).items()}
        converted = {k: tuple(v.shape) for k, v in convert(dict(native)).items()}
        assert converted == expected  # every name, every shape
        assert set(diffusers_map(config)) == set(expected)
    with torch.device("meta"):
        full = model_class(**FULL_SIZE.diffusers_config())
    assert sum(p.numel() for p in full.parameters()) == \
        sum(torch.Size(s).numel() for s in native_shapes(FULL_SIZE).values())  # 6.15 B


@pytest.mark.parametrize("size", ["tiny", "full"])
def test_the_loaders_key_map_is_comfyuis(size):
    reference = json.loads((DATA / "zimage_comfy_map.json").read_text(encoding="utf-8"))[size]
    config = TINY if size == "tiny" else FULL_SIZE
    ours = comfy_key_map(config)
    model_keys = {k for k in diffusers_map(config)}
    for diffusers_key, target in reference["map"].items():
        if diffusers_key not in model_keys:  # q/k/v biases, the context refiner's modulation:
            assert diffusers_key.endswith(".bias") or "context_refiner" in diffusers_key
            continue  # tensors a Z-Image model does not have
        if not diffusers_key.endswith(".weight"):
            continue
        rows = ours["diffusion_model." + diffusers_key[: -len(".weight")]]
        native = "diffusion_model." + rows.key
        got = native if rows.rows is None else [native, rows.start, rows.rows]
        assert got == target, diffusers_key
    assert model_keys <= set(reference["map"])


@pytest.mark.parametrize(("prefix", "names"), [("", "native"),
                                                ("model.diffusion_model.", "native"),
                                                ("", "diffusers")])
def test_inspect_names_a_zimage_transformer_in_each_layout(tmp_path, prefix, names):
    path = save_transformer(random_transformer(TINY), tmp_path / "z.safetensors", prefix,
                            torch.bfloat16, names)
    layout = recognise_zimage(path)
    assert (layout.prefix, layout.names, layout.config) == (prefix, names, TINY)
    info = inspect_checkpoint(path, compute_hash=False)
    assert info.family == "zimage" and info.family_title == "Z-Image"
    rows = dict(info.rows())
    assert rows["Blocks"].startswith("2 layers + 1 noise-refiner + 1 context-refiner")
    assert "training it directly breaks the distillation" in rows["Base or Turbo"]
    assert "Prediction" not in rows and "Suggested clip skip" not in rows


def test_broken_and_foreign_files_are_one_line(tmp_path):
    state = random_transformer(TINY)
    incomplete = dict(state)
    del incomplete["layers.1.feed_forward.w2.weight"]
    path = save_transformer(incomplete, tmp_path / "half.safetensors")
    with pytest.raises(CheckpointError, match="incomplete Z-Image file: 1 of its"):
        inspect_checkpoint(path, compute_hash=False)
    # Lumina-Image 2.0: the same names, fewer key-value heads (qkv is not 3 × dim rows)
    lumina = {k: (v[: 2 * 64] if k.endswith("attention.qkv.weight") else v)
              for k, v in state.items()}
    path = save_transformer(lumina, tmp_path / "lumina.safetensors")
    with pytest.raises(CheckpointError, match="Lumina-Image 2.0"):
        inspect_checkpoint(path, compute_hash=False)


def test_a_qwen3_text_encoder_is_named_not_refused(tmp_path, capsys):
    transformers = pytest.importorskip("transformers")
    if not hasattr(transformers, "Qwen3Config"):
        pytest.skip(f"transformers {transformers.__version__} has no Qwen3")
    from lora_for_dummies.checkpoints.write import save_state_dict

    config = transformers.Qwen3Config(hidden_size=2560, intermediate_size=32,
                                      num_hidden_layers=1, num_attention_heads=2,
                                      num_key_value_heads=1, head_dim=16, vocab_size=64)
    with torch.device("meta"):
        model = transformers.Qwen3ForCausalLM(config)
    state = {k: torch.zeros(1) for k in model.state_dict()}  # the names are what it reads
    state["model.embed_tokens.weight"] = torch.zeros(64, 2560)
    path = save_state_dict(state, tmp_path / "qwen_3_4b.safetensors", {})
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out.strip()
    assert out == ("qwen_3_4b.safetensors: this is Qwen3-4B, Z-Image's text encoder: keep it "
                   "in models/text_encoder, not a base model")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """A native Z-Image pair (the fine-tune saved under `model.diffusion_model.`), its change,
    and the LoRA `lfd extract` writes from it."""
    folder = tmp_path_factory.mktemp("zimage")
    base, tuned, changes = write_tuned_pair(folder, tuned_prefix="model.diffusion_model.")
    lora_dir = folder / "Lora"
    assert main(["extract", str(base), str(tuned), "--name", "z diff", "--lora-dir",
                 str(lora_dir), "--rank", "8", "--dtype", "fp32"]) == 0
    return {"base": base, "tuned": tuned, "changes": changes,
            "lora": lora_dir / "z diff.safetensors", "dir": lora_dir}


def test_extract_writes_forge_neo_keys_that_reproduce_the_change(extracted):
    lora = load_file(str(extracted["lora"]))
    names = {t.name for t in extraction_targets(TINY)}
    assert {k.rsplit(".", 2)[0] if k.endswith("weight") else k.rsplit(".", 1)[0]
            for k in lora} == names  # every block Linear, q / k / v split
    assert "diffusion_model.layers.0.attention.to_q.lora_A.weight" in lora
    assert "diffusion_model.layers.0.attention.to_q.lora_B.weight" in lora
    assert "diffusion_model.layers.0.attention.to_q.alpha" in lora
    with safe_open(str(extracted["lora"]), "pt") as file:
        metadata = file.metadata()
    assert metadata["modelspec.architecture"] == "Z-Image/lora"
    assert metadata["ss_network_module"] == "networks.lora_zimage"
    assert "modelspec.prediction_type" not in metadata
    base, tuned = load_file(str(extracted["base"])), load_file(str(extracted["tuned"]))
    for strength in (1.0, 0.6):
        patched, unmatched = comfy_apply(base, lora, TINY, strength)
        assert unmatched == []  # every key placed: far from Forge Neo's 50 % skip
        for key, weight in base.items():
            expected = weight + strength * (tuned["model.diffusion_model." + key] - weight)
            assert torch.allclose(patched[key], expected, atol=2e-5), key


def test_the_file_delta_is_what_the_rule_adds_module_by_module(extracted):
    from lora_for_dummies.lora.format import load_lora

    modules, _ = load_lora(extracted["lora"])
    base, lora = load_file(str(extracted["base"])), load_file(str(extracted["lora"]))
    patched, _ = comfy_apply(base, lora, TINY, 0.8)
    for target in extraction_targets(TINY):
        rows = target.native
        added = patched[rows.key] - base[rows.key]
        if rows.rows is not None:
            added = added[rows.start: rows.start + rows.rows]
        assert torch.allclose(added, 0.8 * modules[target.name].delta(), atol=1e-6)
        assert torch.allclose(modules[target.name].delta(), extracted["changes"][target.name],
                              atol=2e-5)


def test_diffusers_zimage_loader_applies_the_file_delta(extracted):
    model_class = _zimage_class()
    from diffusers import ZImagePipeline
    from diffusers.loaders.single_file_utils import (
        convert_z_image_transformer_checkpoint_to_diffusers as convert,
    )

    transformer = model_class(**TINY.diffusers_config())
    transformer.load_state_dict(convert(load_file(str(extracted["base"]))))
    before = {k: v.clone() for k, v in transformer.state_dict().items()}
    pipe = ZImagePipeline(scheduler=None, vae=None, text_encoder=None, tokenizer=None,
                          transformer=transformer)
    lora = extracted["lora"]
    pipe.load_lora_weights(str(lora.parent), weight_name=lora.name, adapter_name="z")
    pipe.fuse_lora(lora_scale=0.5)
    pipe.unload_lora_weights()
    after = transformer.state_dict()
    changes = extracted["changes"]
    for key, weight in before.items():
        name = "diffusion_model." + key[: -len(".weight")]
        expected = weight + 0.5 * changes[name] if name in changes else weight
        assert torch.allclose(after[key], expected, atol=2e-5), key


def test_cli_lora_info_inspect_and_refusals(extracted, tmp_path, capsys):
    lora = extracted["lora"]
    assert main(["lora-info", str(lora)]) == 0
    out = capsys.readouterr().out
    assert "zimage" in out and "31" in out and "no text-encoder part" not in out
    assert main(["inspect", str(lora)]) == 0
    assert capsys.readouterr().out.strip().startswith(
        "z diff.safetensors: this is a Z-Image LoRA, not a base model")
    args = ["extract", str(extracted["base"]), str(extracted["tuned"]), "--lora-dir",
            str(extracted["dir"]), "--name"]
    before = lora.read_bytes()
    for argv, reason in ((args + ["z diff"], "z diff.safetensors already exists"),
                         (args + ["conv", "--conv-rank", "4"], "Z-Image has no convolution"),
                         (args + ["ema", "--ema"], "no EMA weights"),
                         (args + ["big", "--rank", "500"], "larger than every layer")):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and reason in err[0], (argv, err)
    assert lora.read_bytes() == before


def test_zimage_is_offered_where_it_trains_and_says_why_elsewhere(capsys):
    why_not = families.get_family("zimage").training_unavailable()  # this set's libraries
    for kind, reason in (("a1111", "Z-Image needs Forge Neo"),
                         ("forge", "Z-Image is offered on Forge Neo"),
                         ("forge_neo", why_not), ("standalone", why_not)):
        runs, note = families.available_on(kind)
        assert ("zimage" in runs) == (reason == ""), kind
        assert reason in note, kind
    code = main(["train", "--example", "--family", "zimage"])
    captured = capsys.readouterr()
    if why_not:  # A1111 1.10's and Forge's diffusers 0.31 / transformers: one line, exit 2
        assert "training needs diffusers 0.36" in why_not
        assert code == 2 and captured.err.strip() == f"error: {why_not}"
    else:
        assert code == 0 and "[model]" in captured.out and "samples" in captured.out


def test_extract_tab_and_models_tab_on_a_zimage_pair(extracted, tmp_path):
    from lora_for_dummies.hosts.standalone import StandaloneHost
    from lora_for_dummies.ui.app import standalone_app
    from lora_for_dummies.ui.models_tab import describe, describe_lora
    from uitools import choices_of, find_block, handler_for

    host = StandaloneHost(tmp_path / "data")
    (host.models_dir / "zimage").mkdir()
    for name in ("base", "tuned"):
        (host.models_dir / "zimage" / extracted[name].name).write_bytes(
            extracted[name].read_bytes())
    host.refresh_checkpoints()
    demo = standalone_app(host)
    listed = choices_of(handler_for(demo, find_block(demo, "lfd_extract_base"), None)())
    assert listed == ["zimage/base.safetensors", "zimage/tuned.safetensors"]
    run = handler_for(demo, find_block(demo, "lfd_extract_report"), "on_extract")
    status, rows = list(run("zimage/base.safetensors", "zimage/tuned.safetensors", "tab z", 8,
                            "fixed", 0.9, 0, True, False, 0, "cpu", "fp16", False))[-1]
    assert "saved" in status and "<lora:tab z:1>" in status, status
    assert len(rows) == 31 and {row[0] for row in rows} == {"transformer"}
    assert json.loads((host.lora_dir() / "tab z.json").read_text())["sd version"] == "Z-Image"
    table = describe(host, "zimage/base.safetensors")
    assert table.startswith("<table") and "Z-Image" in table and "de-distilled" in table
    host.refresh_loras()
    card = describe_lora(host, "tab z.safetensors")
    assert "LoRA (31 modules)" in card and "Z-Image (zimage)" in card
    assert "<td>Forge Neo, ComfyUI, diffusers</td>" in card  # not A1111 / Forge


def test_the_guide_shows_the_wizards_zimage_tiers():
    from lora_for_dummies.families.zimage.tiers import ZIMAGE_TIERS, markdown_table, tier_for

    guide = (Path(__file__).resolve().parent.parent / "docs" / "training.md").read_text(
        encoding="utf-8")
    assert markdown_table() in guide
    assert all(t.measured_gb is None for t in ZIMAGE_TIERS) and "(estimate)" in markdown_table()
    assert [tier_for(gb).gigabytes for gb in (8, 12, 16, 24, 48)] == [12, 12, 16, 24, 24]
    choice = families.get_family("zimage").wizard(8.0)
    assert "needs block swap" in " ".join(choice.reasons)
    assert choice.settings["model.fp8_base"] is True
