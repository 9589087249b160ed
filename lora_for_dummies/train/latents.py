"""VAE latents of training images, cached in memory or on disk (the VAE then runs once per
image and bucket instead of every step)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from lora_for_dummies.train.data import Item, load_pixels


class LatentCache:
    def __init__(self, vae: Any, device: Any, mode: str, folder: Path) -> None:
        self.vae, self.device, self.mode, self.folder = vae, device, mode, folder
        self.memory: dict[tuple[str, tuple[int, int]], tuple[Any, tuple[int, int]]] = {}
        self.encode_seconds = 0.0  # spent in the VAE so far (a step's own pace leaves it out)

    def holds(self, wanted: dict[tuple[str, tuple[int, int]], tuple[Item, tuple[int, int]]]
              ) -> bool:
        """Whether every latent of `wanted` ({key: (item, bucket)}) is cached: the VAE is done."""
        if self.mode == "memory":
            return all(key in self.memory for key in wanted)
        paths = [self._disk_path(item, bucket) for item, bucket in wanted.values()]
        return all(path is not None and path.is_file() for path in paths)

    def get(self, item: Item, bucket: tuple[int, int]) -> tuple[Any, tuple[int, int]]:
        """(scaled latent on the CPU, crop top-left) of `item` fitted to `bucket`."""
        import torch

        key = (str(item.path), bucket)
        if key in self.memory:
            return self.memory[key]
        disk = self._disk_path(item, bucket)
        if disk is not None and disk.is_file():
            from safetensors.torch import load_file

            stored = load_file(str(disk))
            value, top_left = stored["latent"], tuple(stored["top_left"].tolist())
        else:
            began = time.monotonic()
            pixels, top_left = load_pixels(replace(item, bucket=bucket))
            with torch.no_grad():
                latent = self.vae.encode(pixels[None].to(self.device)).latent_dist
                # Flux's VAE also shifts its latents (SD's has no shift_factor)
                shift = getattr(self.vae.config, "shift_factor", None) or 0.0
                value = ((latent.mean[0] - shift) * self.vae.config.scaling_factor).cpu()
            self.encode_seconds += time.monotonic() - began
            if disk is not None:
                from safetensors.torch import save_file

                from lora_for_dummies.atomic import atomic_path

                with atomic_path(disk) as tmp:
                    save_file({"latent": value.contiguous(),
                               "top_left": torch.tensor(top_left)}, str(tmp))
        if self.mode == "memory":
            self.memory[key] = (value, top_left)
        return value, top_left

    def _disk_path(self, item: Item, bucket: tuple[int, int]) -> Path | None:
        """Keyed by the file, its mtime and size, and the bucket: an edited image is redone."""
        if self.mode != "disk":
            return None
        stat = item.path.stat()
        key = f"{item.path.resolve()}|{stat.st_mtime_ns}|{stat.st_size}|{bucket}"
        return self.folder / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".safetensors")
