"""Z-Image trains in the one loop (issue 27): on the tiny Z-Image demo (random weights, every
part a real file) a step computes what diffusers' ZImagePipeline feeds the transformer and
musubi-tuner's documented flow-matching loss, a run saves Forge Neo's
`diffusion_model.<module>.lora_A/B` LoRA, that file is exactly the trained network under the
re-stated Forge Neo / ComfyUI rule, and `lfd train --example --family zimage --demo` trains."""

from __future__ import annotations

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from train_fixtures import tiny_job

from lora_for_dummies.cli import main

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def zimage_demo(tmp_path_factory):
    import diffusers
    import transformers

    if not hasattr(diffusers, "ZImageTransformer2DModel") or \
            not hasattr(transformers, "Qwen3Model"):
        pytest.skip(f"diffusers {diffusers.__version__} / transformers "
                    f"{transformers.__version__}: no Z-Image / Qwen3 (Z-Image says so)")
    from lora_for_dummies.families.zimage.demo import write_zimage_demo

    return write_zimage_demo(tmp_path_factory.mktemp("zimage") / "models")


def _job(base, root, **sections):
    return tiny_job(base, root, network={"train_text_encoder": False, "rank": 4, "alpha": 2},
                    save={"dtype": "fp32"}, **sections)


def test_a_run_on_the_tiny_zimage_saves_forge_neos_lora(zimage_demo, tmp_path):
    from lora_for_dummies.families.zimage.keys import training_targets
    from lora_for_dummies.families.zimage.synthetic import TINY
    from lora_for_dummies.lora.format import load_lora
    from lora_for_dummies.train.loop import Trainer

    trainer = Trainer(_job(zimage_demo, tmp_path, steps=4), tmp_path / "Lora", device="cpu")
    result = trainer.run()
    assert result.message.startswith("done: 4 steps") and "self-check passed" in result.message
    assert "Forge Neo ✓ ComfyUI ✓" in result.message
    assert len(set(round(x, 5) for x in result.losses)) > 1 and all(
        torch.isfinite(torch.tensor(result.losses)))
    keys = load_file(str(result.lora))
    assert "diffusion_model.layers.0.attention.to_q.lora_A.weight" in keys
    assert not any(".lora_down." in k for k in keys)
    modules, metadata = load_lora(result.lora)
    assert set(modules) == {t.name for t in training_targets(TINY)}  # musubi's default set
    assert {m.rank for m in modules.values()} == {4} and {m.alpha for m in modules.values()} \
        == {2.0}
    assert metadata["modelspec.architecture"] == "Z-Image/lora"
    assert metadata["ss_network_module"] == "networks.lora_zimage"
    assert metadata["ss_base_model_version"] == "zimage"
    assert sorted((trainer.run_dir / "samples").glob("*.png")), "samples are rendered"


def test_the_saved_file_is_the_trained_network(zimage_demo, tmp_path):
    """Forge Neo / ComfyUI apply the saved file onto the native weights (q, k, v into rows of
    the fused qkv); each change equals what the trained peft layer adds."""
    from lora_for_dummies.families.zimage.consumers import comfy_apply
    from lora_for_dummies.families.zimage.keys import training_targets
    from lora_for_dummies.families.zimage.synthetic import TINY
    from lora_for_dummies.train.loop import Trainer

    trainer = Trainer(_job(zimage_demo, tmp_path, steps=3, samples={"enabled": False},
                           optimizer={"unet_lr": 0.01}), tmp_path / "Lora", device="cpu")
    result = trainer.run()
    base = load_file(str(zimage_demo))
    patched, unmatched = comfy_apply(base, load_file(str(result.lora)), TINY)
    assert unmatched == []
    for target in training_targets(TINY):
        rows = target.native
        change = patched[rows.key] - base[rows.key]
        if rows.rows is not None:
            change = change[rows.start: rows.start + rows.rows]
        layer = trainer.unet.get_submodule(target.module)
        trained = layer.scaling["default"] * (layer.lora_B["default"].weight @
                                              layer.lora_A["default"].weight)
        assert float(trained.detach().abs().max()) > 0
        torch.testing.assert_close(change, trained.detach(), rtol=0, atol=1e-6)


def test_one_step_is_the_pipelines_call_and_the_documented_loss(zimage_demo):
    """diffusers' ZImagePipeline: each latent as (C, 1, H, W), time (1000 − t) / 1000, the
    caption's unmasked Qwen3 states, the output negated; musubi-tuner's loss: MSE of that
    against ε − x at x_σ = (1 − σ)·x + σ·ε."""
    from lora_for_dummies.families.flux.objective import FlowSettings, sample_sigmas
    from lora_for_dummies.families.zimage.objective import predict_velocity, zimage_loss
    from lora_for_dummies.families.zimage.parts import load_transformer

    torch.manual_seed(0)
    transformer, _, _ = load_transformer(zimage_demo, torch.float32, "cpu")
    latents = torch.randn(2, 16, 8, 6)
    hidden = torch.randn(2, 12, 32)
    mask = torch.zeros(2, 12, dtype=torch.bool)
    mask[0, :5], mask[1, :9] = True, True
    noise = torch.randn_like(latents)
    sigmas = torch.tensor([0.3, 0.8])
    noisy = (1 - sigmas.view(-1, 1, 1, 1)) * latents + sigmas.view(-1, 1, 1, 1) * noise
    with torch.no_grad():
        out = transformer([noisy[0][:, None], noisy[1][:, None]], (1000 - sigmas * 1000) / 1000,
                          [hidden[0][:5], hidden[1][:9]], return_dict=False)[0]
        reference = -torch.stack([o[:, 0] for o in out])
        ours = predict_velocity(transformer, noisy, sigmas, hidden, mask)
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-6)
    # the loss: the generator's draws in the loop's order (noise, then σ)
    settings = FlowSettings(discrete_flow_shift=2.0)
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        loss = zimage_loss(transformer, latents, hidden, mask, generator, settings, 1.0, 2)
    generator = torch.Generator().manual_seed(5)
    noise = torch.randn(latents.shape, generator=generator)
    sigmas = sample_sigmas(2, settings, generator)
    noisy = (1 - sigmas.view(-1, 1, 1, 1)) * latents + sigmas.view(-1, 1, 1, 1) * noise
    with torch.no_grad():
        prediction = predict_velocity(transformer, noisy, sigmas, hidden, mask)
    expected = ((prediction - (noise - latents)) ** 2).mean()
    torch.testing.assert_close(loss, expected)


def test_qwen3_conditioning_is_the_pipelines(zimage_demo):
    """The caption in Qwen3's chat form (as `apply_chat_template` renders it for the pipeline),
    512 tokens, the second-to-last hidden states, the mask keeping the caption's own tokens."""
    from lora_for_dummies.families.zimage import text
    from lora_for_dummies.families.zimage.parts import load_qwen3

    folder = str(zimage_demo.parent / "tokenizer")
    encoder, _ = load_qwen3(zimage_demo.parent / "qwen_3_demo.safetensors", torch.float32,
                            "cpu", "zimage")
    tokens = text.tokenize(["a photo of sks dog", "sks"], folder)
    assert tokens.shape == (2, 2 * text.TOKENS)
    hidden, mask = text.encode(encoder, tokens)
    tokenizer = text.qwen_tokenizer(folder)
    ids = tokenizer("<|im_start|>user\na photo of sks dog<|im_end|>\n<|im_start|>assistant\n"
                    )["input_ids"]
    assert int(mask[0].sum()) == len(ids) and tokens[0, : len(ids)].tolist() == ids
    with torch.no_grad():
        states = encoder(input_ids=torch.tensor([ids]), output_hidden_states=True
                         ).hidden_states[-2][0]
    features = text.caption_features(hidden, mask, "cpu", torch.float32)
    torch.testing.assert_close(features[0], states, rtol=1e-5, atol=1e-5)
    assert features[1].shape[0] < features[0].shape[0]


def test_the_cli_trains_the_zimage_demo_from_its_example_job(zimage_demo, tmp_path, capsys):
    """Issue 27's "done when": `lfd train --example --family zimage --demo` prints a job that
    trains the tiny Z-Image demo on a CPU, and `lfd train job.toml` runs it to a checked LoRA."""
    data = tmp_path / "lfd_data"
    assert main(["train", "--example", "--family", "zimage", "--demo", str(data)]) == 0
    job = capsys.readouterr().out
    assert "demo-tiny-zimage" in job and "HIGHRES_CONCEPT" in job
    (tmp_path / "job.toml").write_text(job, encoding="utf-8")
    assert main(["train", str(tmp_path / "job.toml"), "--set", "training.steps=2",
                 "--set", "save.every=2", "--set", "samples.every=2"]) == 0
    out = capsys.readouterr().out
    assert "done: 2 steps" in out and "loads in: Forge Neo ✓ ComfyUI ✓" in out
    with safe_open(str(data / "Lora" / "demo-zimage.safetensors"), "pt") as lora:
        assert lora.metadata()["modelspec.architecture"] == "Z-Image/lora"
    # the demo's fine-tune for the Extract tab is a Z-Image pair with the base
    from lora_for_dummies.families.zimage.demo import DEMO_MODEL, DEMO_TUNED

    models = data / "models"
    assert main(["extract", str(models / DEMO_MODEL), str(models / DEMO_TUNED), "--name",
                 "demo z diff", "--lora-dir", str(data / "Lora"), "--rank", "4"]) == 0
    assert "transformer: 31 modules written" in capsys.readouterr().out


def test_kinds_and_text_encoder_training_are_refused_with_the_reason(zimage_demo, tmp_path):
    from lora_for_dummies.errors import UserError
    from lora_for_dummies.train.loop import Trainer

    for network, reason in (({"train_text_encoder": True}, "is not trained here"),
                            ({"kind": "lokr"}, "trains the kind LoRA here"),
                            ({"conv_rank": 4}, "no convolutions")):
        job = tiny_job(zimage_demo, tmp_path, network=dict({"train_text_encoder": False},
                                                           **network))
        with pytest.raises(UserError, match=reason):
            Trainer(job, tmp_path / "Lora", device="cpu").run()


def test_the_train_tab_trains_the_zimage_demo(zimage_demo, tmp_path):
    """Standalone, the demo workspace with its Z-Image pair: the base list has it, the Wizard
    follows the base to Z-Image and its tiers, Start trains it to a LoRA Forge Neo loads."""
    from test_train_ui import _values

    from lora_for_dummies.demo import prepare_demo
    from lora_for_dummies.families import get_family
    from lora_for_dummies.families.zimage.demo import DEMO_MODEL
    from lora_for_dummies.hosts.standalone import StandaloneHost
    from lora_for_dummies.ui.app import standalone_app
    from lora_for_dummies.ui.train_session import SESSION
    from lora_for_dummies.ui.train_tab import poll_view
    from uitools import choices_of, find_block, handler_for

    prepare_demo(tmp_path)
    get_family("zimage").write_demo(tmp_path / "models")
    host = StandaloneHost(tmp_path)
    demo = standalone_app(host)
    assert DEMO_MODEL in choices_of(handler_for(demo, find_block(demo, "lfd_train_base"),
                                                None)())
    line, family = handler_for(demo, find_block(demo, "lfd_wizard_family"), "on_base")(
        DEMO_MODEL)
    assert family["value"] == "zimage" and line.startswith("Detected: Z-Image"), line
    wizard = handler_for(demo, find_block(demo, "lfd_wizard_text"), "on_wizard")(16, "zimage")
    assert "Z-Image 16 GB tier" in wizard[0] and "estimate" in wizard[0]
    rows = [[str(host.datasets_dir() / "demo dog" / "HIGHRES_CONCEPT"), "sks", 1, "", ""]]
    start = handler_for(demo, find_block(demo, "lfd_train_message"), "on_start")
    message = start("", 1, False, "", "demo dog", "", DEMO_MODEL, rows, "auto",
                    *_values(training__steps=2, network__train_text_encoder=False,
                             save__name="zimage tab", samples__steps=2))
    assert message.startswith("Started zimage tab"), message
    SESSION.wait(300)
    text, _, gallery, finished = poll_view()
    assert "done: 2 steps" in text and "loads in: Forge Neo ✓ ComfyUI ✓" in text, text
    assert "**Your LoRA is ready: `zimage tab.safetensors`**" in finished
    assert gallery  # the Z-Image sampler's babysitting samples
    with safe_open(str(host.lora_dir() / "zimage tab.safetensors"), "pt") as lora:
        assert lora.metadata()["modelspec.architecture"] == "Z-Image/lora"
