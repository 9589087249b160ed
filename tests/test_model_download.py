"""Captioner models on first use (issue 26): a local folder never touches the network; a
repository name is downloaded once (its size said first) from a stand-in of the hub on
127.0.0.1 (hub_standin.py) through the real huggingface_hub, Stop ends it at once and the next
try resumes with a Range request; a half-finished folder is never used; bad names and failed
downloads are one clear line. No byte leaves the machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hub_standin import HubStandin
from PIL import Image
from tiny_wd14 import write_tiny_wd14

from lora_for_dummies.dataset.layout import create_dataset
from lora_for_dummies.dataset.model_download import DONE, download, folder_of, model_folder
from lora_for_dummies.errors import UserError
from lora_for_dummies.progress import Reporter, StopRequested

ROOT = Path(__file__).resolve().parent.parent
REPO = "SmilingWolf/wd-tiny-tagger-v3"


@pytest.fixture(scope="module")
def tagger_files(tmp_path_factory):
    folder = write_tiny_wd14(tmp_path_factory.mktemp("wd14"))
    return {name: (folder / name).read_bytes() for name in ("model.onnx", "selected_tags.csv")}


@pytest.fixture()
def hub_env(monkeypatch):
    def point_at(hub: HubStandin) -> dict[str, str]:
        env = {"HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1",
               "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HOME": str(Path(hub.home))}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return env
    return point_at


def _dataset(tmp_path: Path) -> Path:
    dataset = create_dataset(tmp_path / "datasets", "demo dog")
    concept = dataset.concept()
    concept.token = "sks"
    dataset.save()
    for which in ("high", "low"):
        Image.new("RGB", (64, 64), (255, 0, 0)).save(dataset.folder(concept, which) / "0.png")
    return dataset.folder(concept, "high")


def test_the_cli_downloads_a_tagger_once_then_captions_offline(tagger_files, hub_env, tmp_path):
    high = _dataset(tmp_path)
    captioners = tmp_path / "captioners"
    args = [sys.executable, "-m", "lora_for_dummies", "dataset", "--datasets-dir",
            str(tmp_path / "datasets"), "caption", "demo dog", "--model", REPO,
            "--captioners-dir", str(captioners), "--mode", "overwrite"]
    with HubStandin({REPO: tagger_files}) as hub:
        hub.home = tmp_path / "hf-home"
        env = dict(os.environ, **hub_env(hub))
        out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env,
                             timeout=300)
        assert out.returncode == 0, out.stderr + out.stdout
        said = out.stdout + out.stderr
        assert f"Downloading {REPO} (" in said and "MB) into" in said, said
        assert hub.downloads("model.onnx") == [""]  # fetched once, whole
    folder = folder_of(REPO, captioners)
    assert (folder / DONE).is_file()
    assert (folder / "model.onnx").read_bytes() == tagger_files["model.onnx"]
    assert (high / "0.txt").read_text(encoding="utf-8").startswith("sks, red hair, 1girl")
    # The hub is gone now: the downloaded folder is used without asking it again.
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0 and "Downloading" not in out.stdout + out.stderr, out.stderr


def test_a_local_folder_never_touches_the_network(tagger_files, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    local = tmp_path / "my tagger"
    local.mkdir()
    for name, data in tagger_files.items():
        (local / name).write_bytes(data)
    assert model_folder(str(local), "wd14", tmp_path / "captioners") == local


class _StopWhenSomeArrived(Reporter):
    def step(self, done: int, text: str = "") -> None:
        super().step(done, text)
        if done >= 10:  # huggingface_hub writes in 10 MB pieces: the first is on disk
            self.request_stop()


def test_stop_ends_a_download_and_the_next_try_resumes_it(hub_env, tmp_path):
    blob = os.urandom(32 * 2**20)
    files = {"config.json": b"{}", "model.safetensors": blob}
    folder = tmp_path / "captioners" / "someone--captioner"
    with HubStandin({"someone/captioner": files}, seconds_per_chunk=0.15, chunk=2**20) as hub:
        hub.home = tmp_path / "hf-home"
        hub_env(hub)
        with pytest.raises(StopRequested):
            download("someone/captioner", folder, ("*.json", "*.safetensors"),
                     _StopWhenSomeArrived())
        assert not (folder / DONE).exists()  # never used half-finished
        hub.seconds_per_chunk = 0.0
        reporter = Reporter()
        download("someone/captioner", folder, ("*.json", "*.safetensors"), reporter)
        ranges = hub.downloads("model.safetensors")
    assert (folder / "model.safetensors").read_bytes() == blob and (folder / DONE).is_file()
    assert not list(folder.rglob("*.incomplete"))  # nothing half-written left behind
    import huggingface_hub

    if huggingface_hub.__version__.startswith("0."):  # the hosts' pins: 0.26, 0.36
        assert ranges[0] == "" and ranges[-1].startswith("bytes=") and \
            ranges[-1] != "bytes=0-", ranges  # the second try asked only for the rest
    else:  # newer releases restart a stopped file (their PR #4228); the stop cleaned up
        assert ranges == ["", ""], ranges
    assert reporter.state.job.startswith("Downloading someone/captioner (32.0 MB)")


def test_bad_names_and_failed_downloads_are_one_clear_line(hub_env, tmp_path):
    with pytest.raises(UserError, match="name the captioner's model: a folder .* "
                                        "SmilingWolf/wd-eva02-large-tagger-v3 \\(about 1.3 GB"):
        model_folder("", "wd14", tmp_path)
    for bad in ("../../no-such-place-lfd", "a/b/c", "not a repo", "owner/.."):
        with pytest.raises(UserError, match="no such folder, and not a Hugging Face"):
            model_folder(bad, "wd14", tmp_path)
    with HubStandin({}) as hub:
        hub.home = tmp_path / "hf-home"
        hub_env(hub)
        with pytest.raises(UserError, match="cannot reach someone/missing on Hugging Face: "
                                            "download its model.onnx and selected_tags.csv"):
            model_folder("someone/missing", "wd14", tmp_path)
    with HubStandin({"someone/other": {"weights.bin": b"pickle"}}) as hub:
        hub.home = tmp_path / "hf-home"
        hub_env(hub)
        with pytest.raises(UserError, match="holds none of the files this captioner reads"):
            model_folder("someone/other", "blip", tmp_path)  # pickles are never fetched
    assert not list(tmp_path.glob("*/" + DONE))


def test_the_dataset_tab_says_what_to_type_and_downloads_on_first_use(tagger_files, hub_env,
                                                                       tmp_path):
    from lora_for_dummies.dataset.autocaption import CaptionOptions
    from lora_for_dummies.hosts.standalone import StandaloneHost
    from lora_for_dummies.ui.app import standalone_app
    from lora_for_dummies.ui.dataset_controller import DatasetController
    from uitools import find_block, handler_for

    host = StandaloneHost(tmp_path / "data")
    _dataset(host.datasets_dir().parent)  # the host's datasets folder
    demo = standalone_app(host)
    on_captioner = handler_for(demo, find_block(demo, "lfd_autocaption_message"), "on_captioner")
    said = on_captioner("WD14 tagger (v3)")
    assert "SmilingWolf/wd-vit-tagger-v3 (about 380 MB" in said
    assert str(host.captioners_dir()) in said and host.captioners_dir().parent == host.data_dir
    with HubStandin({REPO: tagger_files}) as hub:
        hub.home = tmp_path / "hf-home"
        hub_env(hub)
        reporter = Reporter()
        message = DatasetController(host).autocaption("demo dog", "main", "WD14 tagger (v3)",
                                                      CaptionOptions(REPO), "overwrite",
                                                      reporter)
    assert message.startswith("Captioned 1 image, kept 0"), message
    assert (folder_of(REPO, host.captioners_dir()) / DONE).is_file()
