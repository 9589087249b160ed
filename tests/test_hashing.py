"""The webui's sha256 of a model, computed beside the job that reads the file: the same value
as a plain read, from a memory map or (an empty file) a read, cached, and an error raised where
the result is asked for (torch leaving the hash a core: test_cpu_threads.py)."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from lora_for_dummies.checkpoints.hashing import HashAhead, sha256_file


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LFD_CACHE_DIR", str(tmp_path / "cache"))


def test_hash_ahead_matches_a_plain_read_and_fills_the_cache(tmp_path):
    big = tmp_path / "big.safetensors"
    big.write_bytes(os.urandom(3 * 1024 * 1024 + 17))  # a slice boundary is not a block one
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    hashes = HashAhead((big, empty))
    assert hashes.sha256(big) == hashlib.sha256(big.read_bytes()).hexdigest()
    assert hashes.sha256(empty) == hashlib.sha256(b"").hexdigest()
    cache = (tmp_path / "cache" / "hashes.json").read_text()
    assert hashes.sha256(big) in cache and hashes.sha256(empty) in cache


def test_a_file_that_cannot_be_read_fails_in_the_caller(tmp_path):
    hashes = HashAhead((tmp_path / "gone.safetensors",))
    with pytest.raises(FileNotFoundError):
        hashes.sha256(tmp_path / "gone.safetensors")


def test_two_threads_hashing_at_once_keep_both_cache_entries(tmp_path):
    files = [tmp_path / f"m{i}.safetensors" for i in range(6)]
    for i, path in enumerate(files):
        path.write_bytes(bytes([i]) * 4096)
    threads = [threading.Thread(target=sha256_file, args=(p,)) for p in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cache = (tmp_path / "cache" / "hashes.json").read_text()
    assert all(hashlib.sha256(p.read_bytes()).hexdigest() in cache for p in files)


HIGH_WATER = """
import os, sys
sys.path.insert(0, sys.argv[2])
from lora_for_dummies.checkpoints.hashing import sha256_file

def resident():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(fields["VmHWM"].split()[0]) * 1024

before = resident()
sha256_file(sys.argv[1])
print(resident() - before)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="Linux's memory figures")
def test_hashing_a_large_file_keeps_the_resident_memory_flat(tmp_path):
    # One map of a whole model showed a 2 GB file as 2.4 GB of RSS; the maps are 16 MiB each.
    import subprocess
    import sys
    from pathlib import Path

    large = tmp_path / "large.safetensors"
    with open(large, "wb") as handle:
        handle.truncate(768 * 1024 * 1024)  # sparse: quick to make, every page still mapped
    root = str(Path(__file__).resolve().parent.parent)
    grown = int(subprocess.run([sys.executable, "-c", HIGH_WATER, str(large), root],
                               capture_output=True, text=True, check=True).stdout)
    assert grown < 64 * 1024 * 1024, f"hashing grew the resident memory by {grown >> 20} MiB"
