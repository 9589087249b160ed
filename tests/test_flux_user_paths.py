"""Flux files end to end for a user, as SD's are: `lfd inspect` names the transformer and each
separate part, `lfd extract`, the Extract tab and the job API turn two Flux transformers into
a LoRA in the Lora folder (sidecar, name and overwrite rules as for SD), and the Models tab
and the standalone model list treat parts as parts. Real tiny files, no mocks."""

from __future__ import annotations

import json
import time

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from lora_for_dummies.cli import main
from lora_for_dummies.families.flux.synthetic import (
    save_transformer,
    write_clip_l,
    write_flux_vae,
    write_t5,
    write_tuned_pair,
)
from lora_for_dummies.hosts.standalone import StandaloneHost
from lora_for_dummies.ui.app import standalone_app
from lora_for_dummies.ui.models_tab import describe
from uitools import choices_of, find_block, handler_for

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def flux(tmp_path_factory):
    """A Flux base + fine-tune, its separate parts, and an SD checkpoint to mix them with."""
    folder = tmp_path_factory.mktemp("flux")
    base, tuned, changes = write_tuned_pair(folder, tuned_prefix="model.diffusion_model.")
    parts = {"clip_l": write_clip_l(folder / "clip_l.safetensors"),
             "t5xxl": write_t5(folder / "t5xxl_fp16.safetensors"),
             "vae": write_flux_vae(folder / "ae.safetensors")}
    return {"base": base, "tuned": tuned, "changes": changes, **parts}


def _lines(capsys) -> tuple[list[str], list[str]]:
    out = capsys.readouterr()
    return out.out.strip().splitlines(), out.err.strip().splitlines()


def test_inspect_names_the_transformer_and_each_part(flux, tmp_path, capsys):
    assert main(["inspect", "--no-hash", str(flux["base"])]) == 0
    rows, _ = _lines(capsys)
    assert any(r.startswith("Family") and "Flux.1 / Chroma" in r for r in rows)
    assert any(r.startswith("Blocks") and "2 double + 2 single" in r for r in rows)
    assert main(["inspect", str(flux["clip_l"]), str(flux["t5xxl"]), str(flux["vae"])]) == 0
    out, err = _lines(capsys)
    assert err == [] and len(out) == 3  # one line each, no "unknown architecture"
    assert out[0].startswith("clip_l.safetensors: this is a CLIP text encoder") \
        and "models/text_encoder" in out[0]
    assert out[1].startswith("t5xxl_fp16.safetensors: this is a T5 text encoder")
    assert out[2].startswith("ae.safetensors: this is the 16-channel Flux VAE") \
        and "models/VAE" in out[2]
    assert main(["inspect", "--json", str(flux["vae"])]) == 0
    assert json.loads(capsys.readouterr().out)["part"] == "vae"

    gguf = tmp_path / "flux1-dev-Q4_K_S.gguf"
    gguf.write_bytes(b"GGUF" + bytes(60))
    state = {k: v for k, v in load_file(str(flux["base"])).items()}
    key = "double_blocks.0.img_attn.qkv.weight"
    state[key + ".absmax"] = torch.ones(4)
    nf4 = save_transformer(state, tmp_path / "flux1-dev-bnb-nf4.safetensors")
    for path in (gguf, nf4):
        assert main(["inspect", str(path)]) == 2
        _, err = _lines(capsys)
        assert len(err) == 1 and "not supported yet" in err[0], err


def test_cli_extract_writes_a_flux_lora_that_inspect_names(flux, tmp_path, capsys):
    lora_dir = tmp_path / "Lora"
    args = ["extract", str(flux["base"]), str(flux["tuned"]), "--name", "flux diff",
            "--lora-dir", str(lora_dir), "--rank", "8", "--dtype", "fp32"]
    assert main(args) == 0
    out, _ = _lines(capsys)
    assert out[0].startswith("transformer: 26 modules written") and "kept" in out[0]
    assert any(line.startswith("text encoders: not part of a Flux extraction") for line in out)
    lora = lora_dir / "flux diff.safetensors"
    keys = load_file(str(lora))
    assert "lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight" in keys
    with safe_open(str(lora), "pt") as file:
        assert file.metadata()["ss_base_model_version"] == "flux1"
    sidecar = json.loads((lora_dir / "flux diff.json").read_text(encoding="utf-8"))
    assert sidecar["sd version"] == "Flux" and "tuned.safetensors minus" in sidecar["notes"]
    assert main(["inspect", str(lora)]) == 0  # a Flux LoRA is named in one line
    out, _ = _lines(capsys)
    assert out == [f"{lora.name}: this is a Flux LoRA, not a base model: put it in the Lora "
                   "folder and use it in a prompt as <lora:name:1> with its Flux model (lfd "
                   "lora-info lists its modules)"]
    # The same rules as for SD, each one line and exit 2, nothing overwritten.
    before = lora.read_bytes()
    refusals = [
        (args, "flux diff.safetensors already exists"),
        (args[:4] + ["x/y"] + args[5:], "may not contain path separators"),
        (args[:4] + ["conv"] + args[5:] + ["--conv-rank", "4"], "Flux has no convolution"),
        (args[:4] + ["ema"] + args[5:] + ["--ema"], "no EMA weights"),
        (args[:4] + ["big"] + args[5:7] + ["--rank", "500"], "larger than every layer"),
        (["extract", str(flux["clip_l"]), str(flux["tuned"]), "--name", "part",
          "--lora-dir", str(lora_dir)], "one of Flux's separate parts"),
    ]
    for argv, reason in refusals:
        assert main(argv) == 2, argv
        _, err = _lines(capsys)
        assert len(err) == 1 and reason in err[0], (argv, err)
    assert lora.read_bytes() == before
    assert sorted(p.name for p in lora_dir.iterdir()) == ["flux diff.json",
                                                          "flux diff.safetensors"]


def test_mixing_an_sd_model_and_a_flux_transformer_is_one_line(flux, tiny_models, tmp_path,
                                                               capsys):
    for pair in ((tiny_models["sd1"], flux["tuned"]), (flux["base"], tiny_models["sd1"])):
        assert main(["extract", str(pair[0]), str(pair[1]), "--name", "mix",
                     "--lora-dir", str(tmp_path)]) == 2
        _, err = _lines(capsys)
        assert len(err) == 1 and "both must be the same family" in err[0] \
            and "Flux.1 / Chroma" in err[0]


def _flux_host(tmp_path, flux) -> StandaloneHost:
    """Forge Neo's layout under the standalone models folder: the transformers in a folder of
    their own, CLIP-L and T5 in text_encoder/, the VAE in VAE/ (and a stray CLIP-L beside)."""
    host = StandaloneHost(tmp_path / "data")
    folders = {"flux": ["base", "tuned"], "text_encoder": ["clip_l", "t5xxl"], "VAE": ["vae"]}
    for folder, names in folders.items():
        (host.models_dir / folder).mkdir()
        for name in names:
            (host.models_dir / folder / flux[name].name).write_bytes(flux[name].read_bytes())
    (host.models_dir / "flux" / "clip_l.safetensors").write_bytes(flux["clip_l"].read_bytes())
    host.refresh_checkpoints()
    return host


def test_extract_tab_and_models_tab_on_a_flux_pair(flux, tmp_path):
    host = _flux_host(tmp_path, flux)
    demo = standalone_app(host)
    listed = choices_of(handler_for(demo, find_block(demo, "lfd_extract_base"), None)())
    # Parts in text_encoder/ and VAE/ are no base models; one left beside the transformer is
    # listed (find_parts looks there) and the Models tab says what it is.
    assert listed == ["flux/base.safetensors", "flux/clip_l.safetensors",
                      "flux/tuned.safetensors"]
    run = handler_for(demo, find_block(demo, "lfd_extract_report"), "on_extract")
    status, rows = list(run("flux/base.safetensors", "flux/tuned.safetensors", "tab flux", 8,
                            "fixed", 0.9, 0, True, False, 0, "cpu", "fp16", False))[-1]
    assert "saved" in status and "<lora:tab flux:1>" in status, status
    assert len(rows) == 26 and {row[0] for row in rows} == {"transformer"} \
        and {row[4] for row in rows} == {8}
    assert (host.lora_dir() / "tab flux.safetensors").is_file()
    assert json.loads((host.lora_dir() / "tab flux.json").read_text())["sd version"] == "Flux"
    status, _ = list(run("flux/base.safetensors", "flux/tuned.safetensors", "conv", 8, "fixed",
                         0.9, 4, True, False, 0, "cpu", "fp16", False))[-1]
    assert "Flux has no convolution layers" in status and "Traceback" not in status

    table = describe(host, "flux/base.safetensors")
    assert table.startswith("<table") and "Flux.1 / Chroma" in table
    note = describe(host, "flux/clip_l.safetensors")
    assert note.startswith("<p class='lfd-note'>") and "separate parts" in note


def test_the_job_api_extracts_a_flux_pair(flux, tmp_path):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from lora_for_dummies.hosts.api import add_routes

    host = _flux_host(tmp_path, flux)
    app = FastAPI()
    manager = add_routes(app, host)
    api = TestClient(app)
    body = {"kind": "extract", "base": "flux/base.safetensors",
            "tuned": "flux/tuned.safetensors", "name": "api flux", "rank": 8}
    refused = api.post("/lfd/v1/jobs", json=dict(body, rank=500))
    assert refused.status_code == 400 and "larger than every layer" in refused.json()["detail"]
    refused = api.post("/lfd/v1/jobs", json=dict(body, base="flux/clip_l.safetensors"))
    assert refused.status_code == 400 and "separate parts" in refused.json()["detail"]
    answer = api.post("/lfd/v1/jobs", json=body)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    deadline = time.time() + 120
    while job["state"] == "running" and time.time() < deadline:
        time.sleep(0.1)
        job = manager.get(job["id"]).as_dict()
    assert job["state"] == "done" and "transformer: 26 modules written" in job["result"], job
    assert (host.lora_dir() / "api flux.safetensors").is_file()


def test_the_cli_trains_the_flux_demo_from_its_example_job(tmp_path, capsys):
    """Issue 24's "done when": `lfd train --example --family flux --demo` prints a job that
    trains the tiny Flux demo on a CPU, and `lfd train job.toml` runs it to a checked LoRA."""
    data = tmp_path / "lfd_data"
    assert main(["train", "--example", "--family", "flux", "--demo", str(data)]) == 0
    job = capsys.readouterr().out
    assert job.startswith("# The flux demo model on the demo dataset, sized for a CPU")
    assert "demo-tiny-flux" in job and "HIGHRES_CONCEPT" in job
    (tmp_path / "job.toml").write_text(job, encoding="utf-8")
    assert main(["train", str(tmp_path / "job.toml"), "--set", "training.steps=4",
                 "--set", "save.every=2", "--set", "samples.every=2"]) == 0
    out = capsys.readouterr().out
    assert "done: 4 steps" in out and "loads in: Forge Neo ✓ ComfyUI ✓" in out
    with safe_open(str(data / "Lora" / "demo-flux.safetensors"), "pt") as lora:
        assert lora.metadata()["modelspec.architecture"] == "flux-1-dev/lora"
        assert "lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight" in lora.keys()
    assert main(["train", "--example", "--family", "sdxl", "--demo", str(data)]) == 2
    assert "has no sdxl model" in capsys.readouterr().err
