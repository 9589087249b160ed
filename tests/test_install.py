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
    assert main(run_pip=failing, argv=[]) == ["diffusers==0.31.0", "peft==0.13.2"] + tomli
    assert "could not install" in capsys.readouterr().out


def test_newer_hosts_get_the_newest_release_their_pins_allow():
    """Forge Neo (transformers 4.57.6, diffusers 0.37.1, no peft): peft unpinned, so that pip,
    with every installed version held, picks the newest release that fits them."""
    namespace = runpy.run_path(str(ROOT / "install.py"), run_name="lfd_install")
    neo = {"transformers": "4.57.6", "diffusers": "0.37.1", "torch": "2.9.1+cu130"}
    assert namespace["missing_requirements"](neo)[:1] == ["peft>=0.13.2"]
    forge = {"transformers": "4.46.1", "diffusers": "0.31.0", "peft": "0.13.2"}
    assert [r for r in namespace["missing_requirements"](forge) if "tomli" not in r] == []
