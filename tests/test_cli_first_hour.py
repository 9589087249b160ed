"""The command line a newcomer meets: an installable `lfd`, help on every argument, a job file
to start from, files named for what they are, and progress that ends once."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from PIL import Image

from lora_for_dummies import families
from lora_for_dummies.cli import build_parser
from lora_for_dummies.config import _load_toml, load_toml
from lora_for_dummies.progress import ConsoleReporter
from lora_for_dummies.train.config import TrainJob
from lora_for_dummies.train.fields import HELP, SETTINGS, example_job

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    # From any folder: the test sets use the checkout itself, which `pip install .` installs.
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "lora_for_dummies", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _parsers(parser: argparse.ArgumentParser, name: str = "lfd"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_argument_of_every_command_has_help():
    missing = [f"{name}: {action.dest}" for name, parser in _parsers(build_parser())
               for action in parser._actions
               if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
               and action.help != argparse.SUPPRESS and not action.help]
    assert missing == []


def test_the_package_installs_the_lfd_command_with_its_data():
    project = _load_toml((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    module, _, function = project["project"]["scripts"]["lfd"].partition(":")
    assert callable(getattr(__import__(module, fromlist=[function]), function))
    # Every bundled config and tokenizer file is package data (models load offline from them).
    assets = ROOT / "lora_for_dummies" / "assets"
    patterns = project["tool"]["setuptools"]["package-data"]["lora_for_dummies.assets"]
    data = {p for pattern in patterns for p in assets.glob(pattern)}
    files = {p for p in assets.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")}
    assert files and files <= data


@pytest.mark.parametrize("family", [f.key for f in families.all_families()
                                    if not f.training_unavailable()])
def test_train_example_is_a_commented_job_with_the_tabs_defaults_and_help(tmp_path, family):
    out = _run("train", "--example", "--family", family, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == example_job(family)
    job_file = tmp_path / "job.toml"
    job_file.write_text(out.stdout, encoding="utf-8")
    job = load_toml(TrainJob, job_file)  # the file loads back…
    job.validate()
    expected = TrainJob().to_dict()
    for path, value in families.get_family(family).train_defaults.items():
        section, key = path.split(".")
        expected[section][key] = value
    loaded = job.to_dict()
    for section in ("network", "optimizer", "training", "samples", "save"):
        assert loaded[section] == expected[section], section  # …with every default
    assert job.concepts[0].token == "sks"
    # The tab's label and help text of each of its settings are in the file, as comments.
    comments = " ".join(line.lstrip("# ") for line in out.stdout.splitlines()
                        if line.startswith("#"))
    for path, label, _, _ in SETTINGS:
        assert f"{label}: {HELP[path].split()[0]}" in comments, path


def test_every_job_setting_has_help():
    data = TrainJob().to_dict()
    paths = {"runs_dir"} | {f"{section}.{key}" for section, values in data.items()
                            if isinstance(values, dict) for key in values}
    paths |= {f"concepts.{key}" for key in ("folder", "token", "prompt", "repeats",
                                            "class_folder", "class_prompt", "class_images")}
    assert paths == set(HELP)


def test_train_without_a_job_says_how_to_get_one(tmp_path):
    out = _run("train", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip() == "error: give a job file (write one with: lfd train --example " \
                                 "> job.toml)"


def _jpeg(path: Path) -> Path:
    Image.new("RGB", (40, 30), (10, 200, 30)).save(path, format="JPEG")
    return path


def test_inspect_names_what_a_file_is_from_its_first_bytes(tmp_path):
    photo = _jpeg(tmp_path / "photo.jpg")
    png_as_ckpt = tmp_path / "model.ckpt"
    Image.new("RGB", (8, 8)).save(png_as_ckpt, format="PNG")
    html = tmp_path / "download.safetensors"
    html.write_text("<!DOCTYPE html><html><body>Sign in to download</body></html>")
    other_zip = tmp_path / "pack.ckpt"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "not a model")
    expected = {photo: "photo.jpg: this is a JPEG image, not a model",
                png_as_ckpt: "model.ckpt: this is a PNG image, not a model",
                html: "download.safetensors: this is a web page (HTML), not a download",
                other_zip: "pack.ckpt: this is a zip archive that is not a PyTorch checkpoint "
                           "(unpack it)"}
    for path, line in expected.items():
        out = _run("inspect", "--no-hash", str(path))
        assert out.returncode == 2
        assert out.stderr == f"error: {line}\n"  # one line, nothing cut off


def test_a_renamed_checkpoint_is_read_for_what_it_is(tiny_models, tmp_path):
    """A safetensors file named .ckpt is safetensors (no pickle loader is asked); a torch zip
    is recognised as a checkpoint from its bytes."""
    from lora_for_dummies.checkpoints.reader import CheckpointFile
    from lora_for_dummies.checkpoints.sniff import sniff

    renamed = tmp_path / "renamed.ckpt"
    renamed.write_bytes(tiny_models["sd1"].read_bytes())
    assert sniff(renamed).kind == "safetensors"
    with CheckpointFile(renamed) as ckpt:
        assert ckpt.format == "safetensors" and ckpt.keys()
    zipped = tmp_path / "zipped.bin"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, zipped)
    assert sniff(zipped).kind == "zip-checkpoint"
    with CheckpointFile(zipped) as ckpt:
        assert ckpt.format == "ckpt" and ckpt.keys() == ["w"]


def test_the_console_prints_the_last_progress_line_once():
    stream = io.StringIO()  # not a terminal: no carriage-return updates piling up
    reporter = ConsoleReporter(stream)
    reporter.start(3, "Extracting")
    for done in range(1, 4):
        reporter.step(done, f"module {done}")
    reporter.log("unet: 3 modules")
    reporter.finish("saved x.safetensors")
    reporter.finish("saved x.safetensors")  # the job and its caller both finish it
    assert stream.getvalue() == "unet: 3 modules\nExtracting: 3/3 — saved x.safetensors\n"


def test_the_training_bar_prints_its_final_message_once(capsys):
    from lora_for_dummies.cli_train import TqdmReporter

    reporter = TqdmReporter()
    reporter.start(2, "Caching")
    reporter.step(2, "cached")
    reporter.start(3, "Training")  # a second phase closes the first bar
    for done in range(1, 4):
        reporter.step(done, "loss 0.1")
    reporter.finish("done: 3 steps")
    reporter.finish("done: 3 steps")
    out = capsys.readouterr()
    assert out.out.count("done: 3 steps") == 1
    assert "done: 3 steps" not in out.err  # not also in the bar
