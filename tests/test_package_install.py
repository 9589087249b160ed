"""The README's set-up installs the package and its `lfd` command: a real `pip install` of this
checkout into a fresh virtual environment, then the command run from another folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_pip_install_gives_an_lfd_command_that_works_from_any_folder(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    bin_dir = venv / ("Scripts" if sys.platform == "win32" else "bin")
    # --no-deps: the libraries are the webui's or requirements.txt's (the package declares
    # none); pip fetches only the build backend, as it would for a user.
    install = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q",
                              "--disable-pip-version-check", "--no-deps", str(ROOT)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    elsewhere = tmp_path / "somewhere else"
    elsewhere.mkdir()
    lfd = str(bin_dir / "lfd")
    usage = subprocess.run([lfd, "--help"], cwd=elsewhere, capture_output=True, text=True,
                           timeout=120)
    assert usage.returncode == 0 and "serve" in usage.stdout, usage.stderr[-2000:]
    example = subprocess.run([lfd, "train", "--example", "--family", "sdxl"], cwd=elsewhere,
                             capture_output=True, text=True, timeout=120)
    assert example.returncode == 0 and "resolution = 1024" in example.stdout, example.stderr
    # The bundled model configs and tokenizer files went along (models load offline from them).
    assets = subprocess.run([str(bin_dir / "python"), "-c",
                             "import lora_for_dummies, pathlib; print(len([p for p in pathlib."
                             "Path(lora_for_dummies.__file__).parent.joinpath('assets')"
                             ".rglob('*') if p.is_file()]))"],
                            cwd=elsewhere, capture_output=True, text=True, timeout=120)
    installed = int(assets.stdout.strip() or 0)
    bundled = len([p for p in (ROOT / "lora_for_dummies" / "assets").rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts])
    assert installed >= bundled > 0
