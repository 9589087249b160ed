#!/usr/bin/env bash
# The project's test command: lint, then the test suite on each dependency set of DESIGN.md:
#   webui  — A1111 1.10's pins (gradio 3.41, transformers 4.30.2, …) + diffusers 0.31 / peft 0.13
#   forge  — Forge's pins (gradio 4.40, transformers 4.46.1, …)
#   latest — the newest libraries with gradio 5 (what the standalone app installs)
# Each set lives in .venvs/<set>, (re)built when its requirements change.
# LFD_SETS="webui latest" runs a subset; extra arguments go to pytest; LFD_ONE_SET_AT_A_TIME=1
# removes each set once tested (CI, on a machine short of disk).
set -uo pipefail
cd "$(dirname "$0")/.."
sets="${LFD_SETS:-webui forge latest}"
python="${PYTHON:-python3}"
failed=""

prepare() {
  local set=$1 venv=.venvs/$1
  local want
  want=$(cat "requirements/$set.txt" requirements/test.txt requirements.txt | sha256sum | cut -c1-16)
  if [ -f "$venv/.ready" ] && [ "$(cat "$venv/.ready")" = "$want" ]; then return 0; fi
  echo "== installing the $set set into $venv ($(free_disk) free on disk)"
  rm -rf "$venv"
  "$python" -m venv "$venv" || return 1
  "$venv/bin/pip" install -q --disable-pip-version-check -r "requirements/$set.txt" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
  "$venv/bin/python" -c "import torch, diffusers, gradio" || return 1
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps clip-anytorch==2.6.0 2>&1 \
    | grep -v "is ignored" || true
  echo "$want" > "$venv/.ready"
  [ "${LFD_ONE_SET_AT_A_TIME:-0}" = 1 ] || share_identical_files
}

# The sets share most of their bytes (torch alone is ~0.75 GB each): hard-link identical files
# across .venvs (same content and mode) so three sets take ~3 GB of disk instead of ~5 GB.
share_identical_files() {
  command -v hardlink >/dev/null 2>&1 || return 0
  hardlink --quiet --ignore-owner --ignore-time .venvs >/dev/null 2>&1 || true
}

free_disk() { df -h --output=avail . | tail -1 | tr -d ' '; }

lint() {  # once, with the first set that installed: each carries ruff and vermin
  echo "== ruff and vermin (Python 3.10 syntax)"
  "$1/bin/ruff" check . || failed="$failed ruff"
  "$1/bin/vermin" -q --no-tips --violations -t=3.10- --eval-annotations \
    lora_for_dummies scripts install.py preload.py || failed="$failed vermin"
}

linted=""
for set in $sets; do
  venv=.venvs/$set
  if prepare "$set"; then
    [ -n "$linted" ] || { lint "$venv"; linted=1; }
    echo "== tests on the $set set: $("$venv/bin/python" -c 'import gradio, diffusers, transformers; print("gradio", gradio.__version__, "diffusers", diffusers.__version__, "transformers", transformers.__version__)')"
    LFD_DEPSET=$set "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" \
      || failed="$failed $set"
  else
    echo "== could not install the $set set ($(free_disk) free on disk)"
    failed="$failed $set"
  fi
  # LFD_ONE_SET_AT_A_TIME=1 (CI): a set is removed once tested, so the disk holds one at a time.
  [ "${LFD_ONE_SET_AT_A_TIME:-0}" = 1 ] && rm -rf "$venv"
done
[ -n "$linted" ] || { echo "== no set installed"; exit 1; }

if [ -n "$failed" ]; then
  echo "== FAILED:$failed"
  exit 1
fi
echo "== all sets passed: $sets"
