"""Every salvage command under a full disk and a read-only folder (issue 22, finding 9): one
line (`error: …`), an exit code ≠ 0, nothing half-written, the source untouched.

The folders are real tmpfs mounts (a 4 KiB one is full after its first page; a remounted one
is read-only even for root). Skipped where the test may not mount (not root, no CAP_SYS_ADMIN);
CI runs as root.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
import torch
from lora_fixtures import write_tuned

from lora_for_dummies.cli import main
from lora_for_dummies.lora.format import LoraModule, save_lora


def _mount(folder: Path, *options: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(("size=4k",) + options),
                           "tmpfs", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")


@pytest.fixture
def small_disks(tmp_path):
    full, read_only = tmp_path / "full", tmp_path / "readonly"
    _mount(full)
    _mount(read_only, "ro")
    yield {"full": full, "read-only": read_only}
    for folder in (full, read_only):
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _lora(path: Path, seed: int = 0) -> Path:
    generator = torch.Generator().manual_seed(seed)
    modules = {f"lora_unet_m{i}": LoraModule(torch.randn(8, 320, generator=generator),
                                             torch.randn(320, 8, generator=generator), 4.0)
               for i in range(4)}  # ~80 KB: never fits the 4 KiB disk
    return save_lora(path, modules, {"ss_output_name": path.stem})


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*")
            if p.is_file()}


@pytest.fixture(scope="module")
def tuned_pair(tiny_models, tmp_path_factory):
    out = tmp_path_factory.mktemp("pair") / "tuned.safetensors"
    write_tuned(tiny_models["sd1"], out, seed=3)
    return tiny_models["sd1"], out


@pytest.mark.parametrize("disk", ["full", "read-only"])
@pytest.mark.parametrize("command", ["extract", "convert", "rescale", "resize", "merge"])
def test_each_salvage_command_says_it_in_one_line(small_disks, tuned_pair, tmp_path, capsys,
                                                  command, disk):
    from test_lora_tools import _cloneofsimo_pt

    base, tuned = tuned_pair
    sources = tmp_path / "sources"
    sources.mkdir()
    a, b = _lora(sources / "a.safetensors"), _lora(sources / "b.safetensors", 1)
    _cloneofsimo_pt(sources / "old.pt", "attention only")
    before = _digests(sources)
    out_dir = small_disks[disk]
    argv = {
        "extract": ["extract", str(base), str(tuned), "--name", "x", "--lora-dir", str(out_dir)],
        "convert": ["convert", str(sources / "old.pt"), "--base", str(base), "--lora-dir",
                    str(out_dir)],
        "rescale": ["rescale", str(a), "0.6", "--output", str(out_dir / "x.safetensors")],
        "resize": ["resize", str(a), "--rank", "4", "--output", str(out_dir / "x.safetensors")],
        "merge": ["merge", str(a), str(b), "--output", str(out_dir / "x.safetensors")],
    }[command]
    code = main(argv)
    err = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()
    assert code != 0
    assert "Traceback" not in "\n".join(err)
    assert err[-1].startswith("error: ")
    want = "no space left" if disk == "full" else "read-only file system"
    assert want in err[-1], err
    assert [line for line in err if line.startswith("error")] == [err[-1]]
    assert list(out_dir.iterdir()) == []  # nothing half-written, no temporary file left
    assert _digests(sources) == before
