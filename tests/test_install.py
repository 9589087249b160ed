"""install.py: installs only what is missing, never changes an installed version."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
install = runpy.run_path(str(ROOT / "install.py"), run_name="lfd_install")


def test_nothing_to_do_when_present():
    calls = []
    installed = install["installed_distributions"]()
    assert "diffusers" in installed and "peft" in installed
    assert install["main"](run_pip=lambda *a: calls.append(a), argv=[]) == []
    assert calls == []


def test_missing_packages_installed_with_every_installed_version_held(monkeypatch):
    namespace = runpy.run_path(str(ROOT / "install.py"), run_name="lfd_install")
    real = namespace["installed_distributions"]()
    without = {k: v for k, v in real.items() if k not in ("diffusers", "peft")}
    text = namespace["constraints_text"](without)
    assert f"transformers=={real['transformers']}\n" in text
    without["transformers"] = "4.30.2"  # A1111 1.10's pin: the tested pair, pinned
    assert "diffusers" not in text

    seen = {}

    def fake_pip(command, desc):
        constraint = command.split("--constraint ")[1].strip('"')
        seen["command"] = command
        seen["constraints"] = Path(constraint).read_text()

    main = namespace["main"]
    main.__globals__["installed_distributions"] = lambda: without
    assert main(run_pip=fake_pip, argv=[]) == ["diffusers==0.31.0", "peft==0.13.2"]
    assert seen["command"].startswith("install diffusers==0.31.0 peft==0.13.2 --constraint ")
    assert namespace["missing_requirements"](without) == ["diffusers==0.31.0", "peft==0.13.2"]
    assert f"torch=={real['torch']}" in seen["constraints"] or "+" in real["torch"]
    assert f"numpy=={real['numpy']}" in seen["constraints"]


def test_skip_install_is_honoured(monkeypatch):
    namespace = runpy.run_path(str(ROOT / "install.py"), run_name="lfd_install")
    main = namespace["main"]
    main.__globals__["installed_distributions"] = lambda: {"torch": "2.1.2"}
    calls = []
    assert main(run_pip=lambda *a: calls.append(a), argv=["--skip-install"]) == []
    monkeypatch.setenv("COMMANDLINE_ARGS", "--xformers --skip-install")
    assert main(run_pip=lambda *a: calls.append(a), argv=[]) == []
    assert calls == []


def test_failed_install_is_reported_not_raised(capsys):
    namespace = runpy.run_path(str(ROOT / "install.py"), run_name="lfd_install")
    main = namespace["main"]
    main.__globals__["installed_distributions"] = lambda: {"torch": "2.1.2"}

    def failing(command, desc):
        raise RuntimeError("ResolutionImpossible: huggingface_hub would need an upgrade")

    # on Python 3.10 (A1111's) tomli is asked for too: job files are TOML
    tomli = ["tomli>=1.1"] if sys.version_info < (3, 11) else []
    assert main(run_pip=failing, argv=[]) == ["diffusers==0.31.0", "peft==0.13.2"] + tomli + \
        ["onnxruntime>=1.17"]
    out = capsys.readouterr().out
    # the optional onnxruntime is its own pip call: its failure is reported on its own line
    assert out.count("could not install") == 2


def test_onnxruntime_is_added_only_where_no_build_of_it_is_installed():
    """onnxruntime-gpu and the CPU onnxruntime are one module in two distributions: adding the
    CPU one beside the GPU one overwrites its files, so either counts as present."""
    namespace = runpy.run_path(str(ROOT / "install.py"), run_name="lfd_install")
    missing = namespace["missing_optional"]
    assert missing({"torch": "2.1.2"}) == ["onnxruntime>=1.17"]
    assert missing({"onnxruntime-gpu": "1.19.2"}) == []
    assert missing({"onnxruntime": "1.23.2"}) == []
    assert missing({"onnxruntime-directml": "1.20.0"}) == []


def test_newer_hosts_get_the_newest_release_their_pins_allow():
    """Forge Neo (transformers 4.57.6, diffusers 0.37.1, no peft): peft unpinned, so that pip,
    with every installed version held, picks the newest release that fits them."""
    namespace = runpy.run_path(str(ROOT / "install.py"), run_name="lfd_install")
    neo = {"transformers": "4.57.6", "diffusers": "0.37.1", "torch": "2.9.1+cu130"}
    assert namespace["missing_requirements"](neo)[:1] == ["peft>=0.13.2"]
    forge = {"transformers": "4.46.1", "diffusers": "0.31.0", "peft": "0.13.2"}
    assert [r for r in namespace["missing_requirements"](forge) if "tomli" not in r] == []


def _wheel(folder: Path, name: str, version: str, requires: list[str] = ()) -> Path:
    """A real (tiny) wheel, so that a real pip resolves and installs it offline."""
    import zipfile

    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"__version__ = {version!r}\n",
        f"{dist}/METADATA": "Metadata-Version: 2.1\n"
                            f"Name: {name}\nVersion: {version}\n"
                            + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                         "Tag: py3-none-any\n",
    }
    files[f"{dist}/RECORD"] = "".join(f"{path},,\n" for path in files) + f"{dist}/RECORD,,\n"
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
    return path


def test_a_local_version_torch_is_held_by_a_real_pip(tmp_path):
    """Issue 22, finding 11: the webui's torch is `2.1.2+cu121`; constraints that skipped local
    versions let a dependency wanting a newer torch replace it. Here a real venv holds a
    stand-in `torch 2.1.2+cu121`, the index offers torch 2.4.0 and a package needing it: pip,
    run by install.py, must refuse rather than replace the host's torch."""
    import subprocess

    index = tmp_path / "index"
    index.mkdir()
    host_torch = _wheel(index, "torch", "2.1.2+cu121")
    _wheel(index, "torch", "2.4.0")
    _wheel(index, "needsnewtorch", "1.0", ["torch>=2.4"])
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "-q", "--disable-pip-version-check", "install",
           "--no-index", "--find-links", str(index)]
    subprocess.run(pip + [str(host_torch)], check=True)
    script = f"""
import runpy, subprocess, sys
ns = runpy.run_path({str(ROOT / 'install.py')!r}, run_name="lfd_install")
ns["main"].__globals__["requirements_for"] = lambda installed: {{"needsnewtorch": "needsnewtorch"}}
def run_pip(command, desc):
    args = command.replace('"', '').split()
    done = subprocess.run([sys.executable, "-m", "pip", "-q", "--disable-pip-version-check",
                           "--no-index", "--find-links", {str(index)!r}] + args,
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr)
print(ns["main"](run_pip=run_pip, argv=[]))
"""
    done = subprocess.run([str(python), "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "could not install needsnewtorch without changing packages" in done.stdout
    version = subprocess.run([str(python), "-c", "import torch; print(torch.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version == "2.1.2+cu121"
    constraints = runpy.run_path(str(ROOT / "install.py"), run_name="x")["constraints_text"](
        {"torch": "2.1.2+cu121", "torchvision": "0.16.2+cu121", "x": "1.0.dev3", "bad": "v1 beta"})
    assert constraints == "torch==2.1.2+cu121\ntorchvision==0.16.2+cu121\nx==1.0.dev3\n"
