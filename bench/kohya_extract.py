"""kohya-ss/sd-scripts' own `networks/extract_lora_from_models.py`, run as its user runs it, for
bench/extract.py: one process per run (its wall time and peak RSS are that process's own), and
the page cache dropped before a cold run. Nothing of kohya's code is copied here: the script is
run from the user's checkout, with the user's environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path("networks") / "extract_lora_from_models.py"

# PyPI's Linux torchvision wheels are CUDA builds: next to a CPU torch their `_C` cannot load
# and `import torchvision` fails. sd-scripts imports torchvision.transforms at module level
# (library/utils.py for an image blur, library/train_util.py — which the LoRA writer imports —
# builds its image pipeline at import time); the extractor runs none of them. Where no CPU build
# can be installed this stand-in lets the imports succeed and refuses to transform anything (the
# bench says when it uses it).
_STUB = '''"""Stand-in for torchvision written by bench/kohya_extract.py: see its comment there."""


class _Unavailable:
    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        raise RuntimeError("torchvision stand-in: the real torchvision is not installed")


def __getattr__(name):
    return _Unavailable
'''


def kohya_commit(checkout: Path, given: str | None) -> str:
    if given:
        return given
    try:
        return subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout: pass --kohya-commit)"


def kohya_env(checkout: Path, python: str, scratch: Path) -> tuple[dict[str, str], str]:
    """The environment kohya's script runs in, and a note on what the bench had to add.

    `library` is found through PYTHONPATH (what sd-scripts' `pip install -e .` does);
    HF_HUB_OFFLINE: an SD1 checkpoint's text encoder config is built in code, nothing is
    downloaded, and the flag makes sure of it."""
    env = dict(os.environ, PYTHONPATH=str(checkout), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1", COLUMNS="250")
    probe = subprocess.run([python, "-c", "import torchvision.transforms"], env=env,
                           capture_output=True, text=True)
    if probe.returncode == 0:
        return env, "torchvision: the environment's own"
    stub = scratch / "kohya-torchvision-stub" / "torchvision"
    stub.mkdir(parents=True, exist_ok=True)
    (stub / "__init__.py").write_text('"""Stand-in: see transforms.py."""\n')
    (stub / "transforms.py").write_text(_STUB)
    env["PYTHONPATH"] = f"{checkout}{os.pathsep}{stub.parent}"
    return env, ("torchvision: does not import in this environment (a CUDA build next to a CPU "
                 "torch?), so a stand-in was put on PYTHONPATH (imports, transforms nothing); "
                 "the extractor never calls it")


def drop_caches() -> str | None:
    """Empty the page cache so the next run reads both models from disk. Returns why not, if
    it cannot (it needs root)."""
    subprocess.run(["sync"], check=False)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as err:
        return f"cannot drop the page cache ({err.strerror}): cold runs are not cold"
    return None


def warm_up(*paths: Path) -> None:
    """Read the files once so that a warm run finds them in the page cache."""
    for path in paths:
        with open(path, "rb") as handle:
            while handle.read(1 << 24):
                pass


def timed_process(command: list[str], env: dict[str, str] | None = None,
                  cwd: Path | None = None, log: Path | None = None) -> tuple[float, float, str]:
    """Run one command; return (wall seconds, its peak RSS in GB, its stdout). The RSS comes
    from wait4, so it is that process's own (the caller keeps itself small: a forked child
    starts with its parent's resident size)."""
    start = time.perf_counter()
    with subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as process:
        output = process.stdout.read() if process.stdout else ""
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if log:
        log.write_text(output)
    if process.returncode:
        tail = "\n".join(output.splitlines()[-15:])
        sys.exit(f"{command[1] if len(command) > 1 else command[0]} failed "
                 f"({process.returncode}):\n{tail}")
    return seconds, usage.ru_maxrss / 2**20, output


def run_kohya(checkout: Path, python: str, env: dict[str, str], base: Path, tuned: Path,
              output: Path, rank: int, v2: bool) -> tuple[float, float]:
    """kohya's script with its defaults (min_diff 0.01, clamp_quantile 0.99) and our output
    dtype (fp16), on the CPU. Returns (wall seconds, peak RSS GB)."""
    command = [python, str(SCRIPT), "--model_org", str(base), "--model_tuned", str(tuned),
               "--save_to", str(output), "--dim", str(rank), "--save_precision", "fp16",
               "--device", "cpu"] + (["--v2"] if v2 else [])
    output.unlink(missing_ok=True)
    seconds, rss, _ = timed_process(command, env=env, cwd=checkout,
                                    log=output.with_suffix(".log"))
    if not output.exists():
        sys.exit(f"kohya's script wrote no {output}; see {output.with_suffix('.log')}")
    return seconds, rss


def text_encoder_note(log: Path) -> str:
    """kohya's own words on its text encoder decision (its min_diff rule), from its log (rich
    may wrap a line and put the source location inside it)."""
    import re

    text = " ".join(re.sub(r"\S+\.py:\d+", " ", log.read_text()).split())
    found = re.search(r"Text encoder is (different\. \S+ > \S+|same\. Extract U-Net only)", text)
    return found.group(1) if found else ""
