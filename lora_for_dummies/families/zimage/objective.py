"""Z-Image's training objective: flow matching, the transformer fed each image and caption as
a list (its own sequence lengths), the time reversed and the output negated, as diffusers'
ZImagePipeline calls it (`pipeline_z_image.py`: `timestep = (1000 - t) / 1000`,
`noise_pred = -transformer(…)`) and musubi-tuner trains it (`zimage_train_network.py`):

  σ        per image, from the timestep sampling — musubi's recommendation for Z-Image:
           "shift" with a discrete flow shift of 2.0 (σ = sigmoid(N(0,1)), then
           σ·s / (1 + (s − 1)·σ)), the Flux objective's `sample_sigmas`
  input    (1 − σ)·x + σ·ε as (C, 1, H, W) per image, time 1 − σ
  target   ε − x, compared with the negated output
"""

from __future__ import annotations

from typing import Any

from lora_for_dummies.families.flux.objective import FlowSettings, sample_sigmas

DISCRETE_FLOW_SHIFT = 2.0  # musubi-tuner's Z-Image recommendation


def predict_velocity(transformer: Any, noisy: Any, sigmas: Any, hidden: Any, mask: Any) -> Any:
    """ε − x as the model predicts it for `noisy` (B, C, H, W) latents at `sigmas`."""
    import torch

    from lora_for_dummies.families.zimage.text import caption_features

    device, dtype = noisy.device, noisy.dtype
    images = list(noisy.unsqueeze(2).unbind(0))  # (C, 1, H, W) each
    captions = caption_features(hidden, mask, device, dtype)
    # 1 − σ as the pipeline computes it from the scheduler's timestep σ·1000 (the two roundings
    # differ by an ulp, which the sinusoidal time embedding, × 1000, makes visible)
    times = (1000 - sigmas.to(device, dtype) * 1000) / 1000
    out = transformer(images, times, captions, return_dict=False)[0]
    return -torch.stack([o.squeeze(1) for o in out])


def zimage_loss(transformer: Any, latents: Any, hidden: Any, mask: Any, generator: Any,
                settings: FlowSettings, prior_loss_weight: float, instance_count: int) -> Any:
    """Mean loss of a batch whose first `instance_count` images are instance images and the
    rest class images (weighted by `prior_loss_weight`)."""
    import torch.nn.functional as F

    noise = randn_like(latents, generator)
    sigmas = sample_sigmas(latents.shape[0], settings, generator).to(latents.device)
    s = sigmas.view(-1, 1, 1, 1)
    noisy = (1 - s) * latents + s * noise
    prediction = predict_velocity(transformer, noisy, sigmas, hidden, mask)
    per_sample = F.mse_loss(prediction.float(), (noise - latents).float(),
                            reduction="none").mean(dim=[1, 2, 3])
    if instance_count < len(per_sample):
        return per_sample[:instance_count].mean() + prior_loss_weight * \
            per_sample[instance_count:].mean()
    return per_sample.mean()


def randn_like(latents: Any, generator: Any) -> Any:
    import torch

    return torch.randn(latents.shape, generator=generator).to(latents.device)


class ZImageFlow:
    """The loop's objective for Z-Image (`Family.objective`); `pooled` is the captions' mask
    (`text.encode`)."""

    def __init__(self, settings: FlowSettings | None = None):
        self.settings = settings or FlowSettings(discrete_flow_shift=DISCRETE_FLOW_SHIFT)

    def loss(self, transformer: Any, latents: Any, hidden: Any, pooled: Any, unet_inputs: Any,
             generator: Any, training: Any, instance_count: int, autocast: Any) -> Any:
        with autocast():
            return zimage_loss(transformer, latents, hidden, pooled, generator, self.settings,
                               training.prior_loss_weight, instance_count)
