#!/usr/bin/env bash
# The project's test command: lint, then the test suite on each dependency set:
#   webui    — A1111 1.10's pins (gradio 3.41, transformers 4.30.2, …) + diffusers 0.31 / peft 0.13
#   forge    — Forge's pins (gradio 4.40, transformers 4.46.1, …)
#   forgeneo — Forge Neo's pins (gradio 3.43.2, diffusers 0.37.1, transformers 4.57.6, numpy 2, …)
#   latest   — the newest libraries with gradio 5 (what the standalone app installs)
# Each set lives in .venvs/<set>, (re)built when its requirements change. A set may name the
# Python it runs on (requirements/<set>.python, e.g. 3.10 for A1111 1.10) and what its host
# installs first (requirements/<set>.first.txt, e.g. Forge Neo's gradio before its pins).
# LFD_SETS="webui latest" runs a subset; extra arguments go to pytest; LFD_ONE_SET_AT_A_TIME=1
# removes each set once tested (CI, on a machine short of disk).
# The whole suite runs on the sets in LFD_WHOLE_SETS (default: webui and forgeneo, the hosts whose
# pins differ most); the others run its host-facing part (tests/host_part.txt), which keeps CI
# on a 2-core machine within its hour. Arguments that name tests (tests/…) replace either.
set -uo pipefail
cd "$(dirname "$0")/.."
sets="${LFD_SETS:-webui forge forgeneo latest}"
whole_sets="${LFD_WHOLE_SETS:-webui forgeneo}"
python="${PYTHON:-python3}"
failed=""

prepare() {
  local set=$1 venv=.venvs/$1
  local want
  want=$(cat requirements/"$set".* requirements/test.txt requirements.txt | sha256sum | cut -c1-16)
  if [ -f "$venv/.ready" ] && [ "$(cat "$venv/.ready")" = "$want" ]; then return 0; fi
  local interpreter
  interpreter=$(python_for "$set") || return 1
  echo "== installing the $set set into $venv with $("$interpreter" --version) ($(free_disk) free on disk)"
  rm -rf "$venv"
  "$interpreter" -m venv "$venv" || return 1
  if [ -f "requirements/$set.first.txt" ]; then
    "$venv/bin/pip" install -q --disable-pip-version-check -r "requirements/$set.first.txt" 2>&1 \
      | quiet_pip || true
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check -r "requirements/$set.txt" 2>&1 \
    | quiet_pip || true
  "$venv/bin/python" -c "import torch, diffusers, gradio" || return 1
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps clip-anytorch==2.6.0 2>&1 \
    | quiet_pip || true
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

# pip's notes about this machine's local indexes, and its resolver's complaint when a host (Forge
# Neo) installs pins over what gradio 3 declares, say nothing about our code.
quiet_pip() { grep -v -e "is ignored: it is neither a file nor a directory" \
  -e "dependency resolver does not currently take" -e "which is incompatible" \
  -e "requires .*, but you have" || true; }

# The interpreter a set runs on: requirements/<set>.python names a version (3.10: A1111 1.10's
# Python), found on PATH or in pyenv; without that file, $PYTHON or python3.
python_for() {
  local file="requirements/$1.python" version candidate
  if [ ! -f "$file" ]; then echo "$python"; return 0; fi
  version=$(tr -d ' \n' < "$file")
  for candidate in "python$version" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version"*/bin/python; do
    # a pyenv shim answers `command -v` for versions it has not selected: run it to be sure
    if "$candidate" -c "import sys; assert sys.version.startswith('$version')" 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  echo "== the $1 set needs Python $version (pyenv install $version)" >&2
  return 1
}

lint() {  # once, with the first set that installed: each carries ruff and vermin
  echo "== ruff and vermin (Python 3.10 syntax)"
  "$1/bin/ruff" check . || failed="$failed ruff"
  "$1/bin/vermin" -q --no-tips --violations -t=3.10- --eval-annotations \
    lora_for_dummies scripts install.py preload.py || failed="$failed vermin"
}

# What pytest runs on a set: the whole suite, or the host-facing part, unless tests were named.
selection() {
  local arg
  for arg in "$@"; do [[ "$arg" == tests/* ]] && return 0; done
  [[ " $whole_sets " == *" $1 "* ]] && return 0
  grep -v -e '^#' -e '^$' tests/host_part.txt
}

linted=""
for set in $sets; do
  began=$SECONDS
  venv=.venvs/$set
  if prepare "$set"; then
    [ -n "$linted" ] || { lint "$venv"; linted=1; }
    part=$(selection "$set" "$@")
    scope="the whole suite"; [ -z "$part" ] || scope="the host-facing part, tests/host_part.txt"
    echo "== tests on the $set set ($scope): $("$venv/bin/python" -c 'import sys, torch, gradio, diffusers, transformers; print("Python", sys.version.split()[0], "torch", torch.__version__, "gradio", gradio.__version__, "diffusers", diffusers.__version__, "transformers", transformers.__version__)')"
    # shellcheck disable=SC2086  # the part's file names hold no spaces
    LFD_DEPSET=$set "$venv/bin/python" -m pytest -q -p no:cacheprovider $part "$@" \
      || failed="$failed $set"
  else
    echo "== could not install the $set set ($(free_disk) free on disk)"
    failed="$failed $set"
  fi
  # LFD_ONE_SET_AT_A_TIME=1 (CI): a set is removed once tested, so the disk holds one at a time.
  [ "${LFD_ONE_SET_AT_A_TIME:-0}" = 1 ] && rm -rf "$venv"
  echo "== the $set set took $(( (SECONDS - began) / 60 )) min $(( (SECONDS - began) % 60 )) s"
done
[ -n "$linted" ] || { echo "== no set installed"; exit 1; }

if [ -n "$failed" ]; then
  echo "== FAILED:$failed"
  exit 1
fi
echo "== all sets passed: $sets"
