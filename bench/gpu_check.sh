#!/usr/bin/env bash
# GPU checks as one run (about 13 minutes on an H100): the training, residency and checkpointing
# tests on CUDA (the VAE and text encoders parked off the GPU and brought back for samples), then
# the training benchmark — SD1.5 at 512 px in fp16 and SDXL at 1024 px in bf16, ours (partial
# gradient checkpointing, the bench default) against the diffusers-example reference, it/s and
# peak VRAM — and each SDXL tier of the Performance Wizard (lora_for_dummies/train/vram_tiers.py)
# with its exact settings: peak VRAM and it/s beside the tier's estimate, the figures that
# replace the "estimate" labels; then the Flux tiers (bench/flux_tier.py) and the Z-Image tiers
# (bench/zimage_tier.py). Results go to $OUT (or bench/out/train) as gpu_check.txt.
#
# On a machine without diffusers, put its wheel (and any other missing one) in .whl first:
#   pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --platform manylinux2014_x86_64 -d .whl diffusers importlib_metadata zipp
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-bench/out/train}"
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
    | tee "$OUT/gpu_check.txt"
python3 -m pytest -q -p no:cacheprovider tests/test_residency.py tests/test_checkpointing.py \
    tests/test_train.py 2>&1 | tail -n 15 | tee -a "$OUT/gpu_check.txt" || true
for args in "--family sd1 --precision fp16 --resolutions 512" \
            "--family sdxl --precision bf16 --resolutions 1024"; do
    # shellcheck disable=SC2086  # the arguments are meant to split
    python3 bench/train_step.py --device cuda --steps 8 $args 2>&1 \
        | grep -v -e Warning -e "should be kept in float32" | tee -a "$OUT/gpu_check.txt"
done
for tier in sdxl-8gb sdxl-12gb sdxl-16gb sdxl-24gb; do
    python3 bench/train_step.py --device cuda --steps 8 --preset "$tier" 2>&1 \
        | grep -v -e Warning -e "should be kept in float32" | tee -a "$OUT/gpu_check.txt"
done
# Flux.1 dev: the 16 and 24 GB tiers (families/flux/tiers.py) on a full-size random
# transformer, written once (about a minute); each tier about two minutes.
for tier in 16 24; do
    python3 bench/flux_tier.py --device cuda --tier "$tier" --steps 4 2>&1 \
        | grep -v -e Warning -e "should be kept in float32" | tee -a "$OUT/gpu_check.txt"
done
# Z-Image: the 12, 16 and 24 GB tiers (families/zimage/tiers.py) on a full-size random
# transformer (12.3 GB, written once); each tier about a minute.
for tier in 12 16 24; do
    python3 bench/zimage_tier.py --device cuda --tier "$tier" --steps 4 2>&1 \
        | grep -v -e Warning -e "should be kept in float32" | tee -a "$OUT/gpu_check.txt"
done
