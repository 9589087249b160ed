"""Where the frozen VAE and text encoders live during a run.

With latents and text-encoder outputs cached, training steps never run the VAE or the text
encoders. Encoding everything the run can ask for before the first step (as kohya's scripts
do) lets them leave the GPU for the whole run — about 0.6 GB of VRAM for SD1.5 and 2 GB for
SDXL (text encoders in fp16, the VAE in fp32) — and come back only while samples render.
Without a GPU there is nowhere to park them; when no samples will be rendered either, they are
released.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from lora_for_dummies.train.data import TrainingSet
from lora_for_dummies.train.latents import LatentCache


def wanted_latents(data: TrainingSet) -> dict[tuple[str, tuple[int, int]], Any]:
    """Every (image, bucket) a step can ask a latent of, once: {LatentCache key: (item, bucket)}.
    Class images join a batch of any bucket; repeats list an image several times."""
    buckets = sorted({item.bucket for item in data.items})
    pairs = [(item, item.bucket) for item in data.items]
    pairs += [(item, bucket) for item in data.class_items for bucket in buckets]
    return {(str(item.path), bucket): (item, bucket) for item, bucket in pairs}


def fills_during_training(device: Any) -> bool:
    """Whether latents are encoded when a step first needs one instead of all before step 1.
    On a GPU the VAE encodes a picture in well under a second and the whole cache is filled
    first, so that the VAE can leave the GPU before training takes its memory. On a CPU an
    encode takes seconds (~12 s at 512 px for SD1.5 on two cores): filling first kept the first
    step waiting that long for every picture, and there is no GPU to free — training starts
    at once and the VAE is released when every latent is in the cache (without samples)."""
    return not str(device).startswith("cuda")


def precache(data: TrainingSet, latents: LatentCache | None,
             encode_caption: Callable[[str], Any] | None,
             progress: Callable[[str], None] = lambda text: None,
             check_stop: Callable[[], None] = lambda: None) -> int:
    """Encode (with `latents`) every image in every bucket a step can ask for it in, and (with
    `encode_caption`) every caption. Class images join a batch of any bucket, so they are
    encoded for each. `progress` hears "encoding 8 images: 3/8" as it goes. Returns the
    number of latents. `check_stop` is called before each image and caption (it raises to
    stop: caching hundreds of images takes minutes)."""
    count = 0
    if latents is not None:
        unique = wanted_latents(data)
        for done, (item, bucket) in enumerate(unique.values()):
            check_stop()
            progress(f"encoding {len(unique)} images: {done}/{len(unique)}")
            latents.get(item, bucket)
        count = len(unique)
    if encode_caption is not None:
        captions = list(dict.fromkeys(item.caption for item in data.items + data.class_items))
        for done, caption in enumerate(captions):
            check_stop()
            progress(f"encoding {len(captions)} captions: {done}/{len(captions)}")
            encode_caption(caption)
    return count


class FrozenModels:
    """The VAE and text encoders, on the training device only while they are needed."""

    def __init__(self, models: list[Any], device: Any, names: str) -> None:
        self.models, self.device = models, device
        self.names = names  # what they are, for the run's log
        self.parked = self.released = False

    def park(self, needed_later: bool) -> str:
        """Take them off the training device; say what happened (for the run's log)."""
        import torch

        if str(self.device).startswith("cuda"):
            for model in self.models:
                model.to("cpu")
            self.parked = True
            torch.cuda.empty_cache()
            return f"{self.names} moved off the GPU until samples"
        if needed_later:
            return ""
        self.models.clear()  # the caller drops its own references, then frees the memory
        self.released = True
        return f"{self.names} released (no samples in this run)"

    @contextlib.contextmanager
    def on_device(self, stay: list[Any] | None = None) -> Iterator[None]:
        """Back on the training device for the block (rendering samples), parked after; the
        models in `stay` are not needed there (a family whose samples read cached prompts)."""
        if not self.parked:
            yield
            return
        moved = [m for m in self.models if not any(m is s for s in stay or [])]
        for model in moved:
            model.to(self.device)
        try:
            yield
        finally:
            for model in moved:
                model.to("cpu")
