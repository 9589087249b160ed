"""Names are data, never patterns: every place a name meets the file system matches literally."""

from __future__ import annotations

import json

import pytest
import torch
from imagegen import photo, save
from train_fixtures import tiny_job

from lora_for_dummies.errors import UserError
from lora_for_dummies.lora.format import LoraModule, save_lora
from lora_for_dummies.names import check_name, lora_files, same_stem, step_files

# Names people use (`char [v2]`) and the characters glob and fnmatch treat as patterns.
PATTERN_NAMES = ["dog[s]", "char [v2]", "a]b[", "wow!", "[!x]", "x[0-9]"]


def small_lora(path, seed=0):
    generator = torch.Generator().manual_seed(seed)
    modules = {"lora_unet_a": LoraModule(torch.randn(2, 4, generator=generator),
                                         torch.randn(4, 2, generator=generator), 2.0)}
    return save_lora(path, modules, {"ss_output_name": path.stem})


@pytest.mark.parametrize("name", ["CON", "con.txt", "CON .txt", "Aux.tar.gz", "nul ", "conin$",
                                  "CONOUT$", "conout$.log", "COM1", "lpt9.png", "COM¹", "x.",
                                  "x. ", "a*b", "a?b", "a/b", "..", ".lfd-tmp"])
def test_refused_names(name):
    with pytest.raises(UserError):
        check_name(name)


def test_the_stripped_name_is_the_name(tiny_models, tmp_path):
    assert check_name("  char [v2] ") == "char [v2]"
    job = tiny_job(tiny_models["sd1"], tmp_path, save={"name": "tiny "})
    job.validate()
    assert job.save.name == "tiny" and job.run_dir.name == "tiny"


@pytest.mark.parametrize("name", PATTERN_NAMES)
def test_step_files_match_literally(tmp_path, name):
    check_name(name)
    others = ["dogs", "chav2", "c", "x0", "x5", "wow", "ab"]
    for other in others:
        small_lora(tmp_path / f"{other}-000001.safetensors")
    mine = [small_lora(tmp_path / f"{name}-{step:06d}.safetensors") for step in (1, 2)]
    assert [p for _, p in step_files(tmp_path, name)] == mine
    assert lora_files(tmp_path, name) == mine
    assert not step_files(tmp_path, "dog*") and not step_files(tmp_path, "?")


def test_keep_last_never_deletes_another_loras_steps(tiny_models, tmp_path):
    """The finding: a run named `dog[s]` pruned `dogs-…` step files through glob()."""
    lora_dir = tmp_path / "Lora"
    lora_dir.mkdir()
    theirs = [small_lora(lora_dir / f"dogs-{step:06d}.safetensors", step) for step in (1, 2, 3)]
    before = [p.read_bytes() for p in theirs]
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=3, samples={"enabled": False},
                   save={"name": "dog[s]", "every": 1, "keep_last": 1})
    from lora_for_dummies.train.loop import Trainer

    Trainer(job, lora_dir).run()
    assert [p.read_bytes() for p in theirs] == before
    assert [p.name for _, p in step_files(lora_dir, "dog[s]")] == ["dog[s]-000003.safetensors"]


def test_best_step_finds_steps_of_a_bracketed_name(tmp_path):
    from lora_for_dummies.train.bestgrid import saved_steps
    from lora_for_dummies.train.run_files import RunFiles

    small_lora(tmp_path / "char v-000001.safetensors")
    mine = small_lora(tmp_path / "char [v]-000004.safetensors")
    RunFiles(tmp_path / "runs" / "char [v]", tmp_path, "char [v]").record(mine)
    assert saved_steps(tmp_path, "char [v]", tmp_path / "runs" / "char [v]") == [(4, mine)]


def test_same_stem_is_literal(tmp_path):
    for name in ("a[1].png", "a1.png", "a[1].txt", "a!.png", "b*?.png"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in same_stem(tmp_path, "a[1]")] == ["a[1].png", "a[1].txt"]
    assert [p.name for p in same_stem(tmp_path, "b*?")] == ["b*?.png"]
    assert not same_stem(tmp_path, "a*")


def test_caption_editor_saves_beside_bracketed_images(tmp_path):
    from lora_for_dummies.dataset.layout import create_dataset
    from lora_for_dummies.hosts.standalone import StandaloneHost
    from lora_for_dummies.ui.dataset_controller import DatasetController

    host = StandaloneHost(tmp_path)
    dataset = create_dataset(host.datasets_dir(), "set [1]")
    concept = dataset.concept("")
    for which in ("high", "low"):
        save(photo(64, 64, 0), dataset.folder(concept, which) / "img[1]!.png")
        save(photo(64, 64, 1), dataset.folder(concept, which) / "img1!.png")
    DatasetController(host).save_caption("set [1]", "main", "img[1]!", "sks, dog")
    for which in ("high", "low"):
        folder = dataset.folder(concept, which)
        assert (folder / "img[1]!.txt").read_text(encoding="utf-8") == "sks, dog"
        assert not (folder / "img1!.txt").exists()
    with pytest.raises(UserError):
        DatasetController(host).open("../..")


def test_autocaption_mirrors_bracketed_stems(tmp_path):
    from lora_for_dummies.dataset.autocaption import run_autocaption

    high, low = tmp_path / "high", tmp_path / "low"
    for folder in (high, low):
        save(photo(64, 64, 0), folder / "x[2].png")
        save(photo(64, 64, 1), folder / "x2.png")

    class Fixed:
        name = "fixed"

        def caption(self, image):
            return "a dog"

        def close(self):
            pass

    run_autocaption([high / "x[2].png"], Fixed(), mirrors=[low])
    assert (low / "x[2].txt").read_text(encoding="utf-8").strip() == "a dog"
    assert not (low / "x2.txt").exists()


def test_api_lists_only_the_runs_own_loras(tmp_path):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from lora_for_dummies.hosts.api import add_routes
    from lora_for_dummies.hosts.standalone import StandaloneHost

    host = StandaloneHost(tmp_path)
    (host.runs_dir() / "dog[s]").mkdir()
    (host.runs_dir() / "dog[s]" / "config.toml").write_text("", encoding="utf-8")
    (host.runs_dir() / "dog[s]" / "log.jsonl").write_text(json.dumps({"step": 1}) + "\n{cut",
                                                         encoding="utf-8")
    for name in ("dog[s].safetensors", "dog[s]-000002.safetensors", "dogs.safetensors",
                 "dog[s]2.safetensors", "dog[s]-000009.safetensors"):
        small_lora(host.lora_dir() / name)
    from lora_for_dummies.train.run_files import RunFiles

    # the run wrote two of them; dog[s]-000009 is only named like one of its steps
    RunFiles(host.runs_dir() / "dog[s]", host.lora_dir(), "dog[s]").record(
        host.lora_dir() / "dog[s].safetensors", host.lora_dir() / "dog[s]-000002.safetensors")
    app = FastAPI()
    add_routes(app, host)
    client = TestClient(app)
    [run] = client.get("/lfd/v1/runs").json()
    assert run["loras"] == ["dog[s]-000002.safetensors", "dog[s].safetensors"]
    assert client.get("/lfd/v1/runs/dog[s]/log").json() == [{"step": 1}]


# Issue 22, finding 4: names are checked in bytes, as the longest file they will become.
DOGS = "🐶" * 70  # 70 characters, 280 bytes
KANJI = "漢" * 80  # 240 bytes: fits as <name>.safetensors, not as <name>-000002.safetensors


@pytest.mark.parametrize("what", ["dataset name", "run name", "LoRA name", "preset name",
                                  "concept name", "concept token"])
def test_a_name_too_long_in_bytes_is_refused_with_the_reason(what):
    with pytest.raises(UserError, match="bytes and file systems allow 255"):
        check_name(DOGS, what)


def test_a_run_name_is_checked_as_its_longest_step_file(tiny_models, tmp_path):
    from lora_for_dummies.names import longest_file_name

    longest = longest_file_name("x" * 10, "run name")
    assert longest == ".lfd-xxxxxxxxxx-99999999.safetensors.9999999999.xxxxxxxx.tmp"
    assert len(f"{KANJI}.safetensors".encode()) <= 255  # the old check let it through
    job = tiny_job(tiny_models["sd1"], tmp_path, save={"name": KANJI})
    with pytest.raises(UserError, match=r"run name is too long.*shorten it by \d+ bytes"):
        job.validate()  # before any model loads: no step is trained for nothing
    fits = "漢" * 68  # 204 bytes + the longest temporary step file's 50
    assert check_name(fits, "run name") == fits


def test_every_route_refuses_a_long_name_in_one_line(tmp_path, capsys):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from lora_for_dummies.cli import main
    from lora_for_dummies.hosts.api import add_routes
    from lora_for_dummies.hosts.standalone import StandaloneHost

    datasets = tmp_path / "datasets"
    assert main(["dataset", "--datasets-dir", str(datasets), "create", DOGS]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "bytes" in err[0]
    host = StandaloneHost(tmp_path / "data")
    app = FastAPI()
    add_routes(app, host)
    answer = TestClient(app).post("/lfd/v1/jobs", json={"kind": "process", "dataset": DOGS})
    assert answer.status_code == 400 and "bytes" in answer.json()["detail"]
    answer = TestClient(app).post("/lfd/v1/jobs", json={"kind": "extract", "base": "a",
                                                        "tuned": "b", "name": KANJI * 2})
    assert answer.status_code == 400


def test_a_path_whose_temporary_name_is_too_long_is_refused_before_writing(tmp_path):
    from lora_for_dummies.atomic import write_text_atomic

    target = tmp_path / ("a" * 240 + ".txt")  # a valid name; its temporary name is not
    with pytest.raises(UserError, match="too long"):
        write_text_atomic(target, "x")
    assert list(tmp_path.iterdir()) == []
