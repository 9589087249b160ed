"""Flux's training objective: rectified flow on packed 2×2 latents.

As the references compute it (kohya's sd-scripts `flux_train_network.py` with
`library/flux_train_utils.py`, branch sd3; diffusers' `train_dreambooth_lora_flux.py`):
  σ        per image, from the timestep sampling (kohya's default for LoRA: "shift" —
           σ = sigmoid(N(0,1)·scale), then σ·s / (1 + (s − 1)·σ) with the discrete flow
           shift s = 3.1582; "sigmoid" without the shift; "uniform" = diffusers' default)
  input    (1 − σ)·x + σ·ε, packed into 2×2 patches of 4·16 = 64 channels
  guidance fed 1.0 for guidance-distilled models (dev, Krea) while training
  target   ε − x (the flow's velocity); the model's prediction is used raw
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DISCRETE_FLOW_SHIFT = 3.1582  # kohya's recommended value for Flux.1 dev LoRAs
TIMESTEP_SAMPLINGS = ("shift", "sigmoid", "uniform")


@dataclass(frozen=True)
class FlowSettings:
    timestep_sampling: str = "shift"
    discrete_flow_shift: float = DISCRETE_FLOW_SHIFT
    sigmoid_scale: float = 1.0
    guidance: float = 1.0  # the guidance embedding's input while training (dev / Krea)


def sample_sigmas(count: int, settings: FlowSettings, generator: Any) -> Any:
    """σ ∈ (0, 1) for `count` images: how much noise each is trained at."""
    import torch

    if settings.timestep_sampling == "uniform":
        return torch.rand((count,), generator=generator)
    sigmas = torch.sigmoid(settings.sigmoid_scale * torch.randn((count,), generator=generator))
    if settings.timestep_sampling == "shift":
        shift = settings.discrete_flow_shift
        sigmas = sigmas * shift / (1 + (shift - 1) * sigmas)
    return sigmas


def pack(latents: Any) -> Any:
    """(B, C, H, W) → (B, H/2 · W/2, 4C): each 2×2 patch one token, as Flux reads them."""
    batch, channels, height, width = latents.shape
    patches = latents.view(batch, channels, height // 2, 2, width // 2, 2)
    return patches.permute(0, 2, 4, 1, 3, 5).reshape(batch, (height // 2) * (width // 2),
                                                      channels * 4)


def unpack(tokens: Any, height: int, width: int) -> Any:
    """The inverse of `pack` for a latent of `height` × `width`."""
    batch, _, features = tokens.shape
    channels = features // 4
    patches = tokens.view(batch, height // 2, width // 2, channels, 2, 2)
    return patches.permute(0, 3, 1, 4, 2, 5).reshape(batch, channels, height, width)


def image_ids(height: int, width: int, device: Any, dtype: Any) -> Any:
    """Position ids (0, row, column) of each packed token of a `height` × `width` latent."""
    import torch

    rows, cols = height // 2, width // 2
    ids = torch.zeros(rows, cols, 3)
    ids[..., 1] = torch.arange(rows)[:, None]
    ids[..., 2] = torch.arange(cols)[None, :]
    return ids.reshape(rows * cols, 3).to(device, dtype)


def predict_flow(transformer: Any, noisy: Any, sigmas: Any, text: Any, pooled: Any,
                 guidance: float) -> Any:
    """The transformer's velocity prediction for unpacked `noisy` latents at `sigmas`."""
    import torch

    _, _, height, width = noisy.shape
    device, dtype = noisy.device, noisy.dtype
    config = transformer.config
    # diffusers' FluxTransformer2DModel multiplies timestep and guidance by 1000 itself.
    guidance_input = torch.full((noisy.shape[0],), guidance, device=device, dtype=dtype) \
        if config.guidance_embeds else None
    out = transformer(hidden_states=pack(noisy), timestep=sigmas.to(device, dtype),
                      guidance=guidance_input, pooled_projections=pooled.to(device, dtype),
                      encoder_hidden_states=text.to(device, dtype),
                      txt_ids=torch.zeros(text.shape[1], 3, device=device, dtype=dtype),
                      img_ids=image_ids(height, width, device, dtype), return_dict=False)[0]
    return unpack(out, height, width)


def flow_loss(transformer: Any, latents: Any, text: Any, pooled: Any, generator: Any,
              settings: FlowSettings, prior_loss_weight: float, instance_count: int) -> Any:
    """Mean loss of a batch whose first `instance_count` images are instance images and the
    rest, with prior preservation, class images (weighted by `prior_loss_weight`)."""
    import torch
    import torch.nn.functional as F

    noise = torch.randn(latents.shape, generator=generator).to(latents.device)
    sigmas = sample_sigmas(latents.shape[0], settings, generator).to(latents.device)
    s = sigmas.view(-1, 1, 1, 1)
    noisy = (1 - s) * latents + s * noise
    prediction = predict_flow(transformer, noisy, sigmas, text, pooled, settings.guidance)
    target = noise - latents
    per_sample = F.mse_loss(prediction.float(), target.float(), reduction="none").mean(
        dim=[1, 2, 3])
    if instance_count < len(per_sample):
        return per_sample[:instance_count].mean() + prior_loss_weight * \
            per_sample[instance_count:].mean()
    return per_sample.mean()


class FlowMatching:
    """The loop's objective for Flux (`Family.objective`): `flow_loss` with the run's settings."""

    def __init__(self, settings: FlowSettings):
        self.settings = settings

    def loss(self, transformer: Any, latents: Any, hidden: Any, pooled: Any, unet_inputs: Any,
             generator: Any, training: Any, instance_count: int, autocast: Any) -> Any:
        with autocast():
            return flow_loss(transformer, latents, hidden, pooled, generator, self.settings,
                             training.prior_loss_weight, instance_count)
