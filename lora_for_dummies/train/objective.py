"""The training objective: what the UNet's prediction is compared with, and how each sample
of the batch counts — ε or v target, min-SNR-γ weighting, prior-preservation weight."""

from __future__ import annotations

from typing import Any

from lora_for_dummies.train.config import TrainingConfig
from lora_for_dummies.train.training_utils import compute_snr


def min_snr_weights(noise_scheduler: Any, timesteps: Any, gamma: float, v_prediction: bool
                    ) -> Any:
    """Min-SNR-γ loss weights (Hang et al. 2023) with diffusers' own `compute_snr`:
    min(SNR, γ) / SNR for ε, min(SNR, γ) / (SNR + 1) for v. With zero terminal SNR the last
    timestep has SNR 0: the v form is then 0 (finite); the ε form would be 0/0 and counts 1,
    as diffusers' examples do."""
    import torch

    snr = compute_snr(noise_scheduler, timesteps)
    clipped = torch.clamp(snr, max=gamma)
    if v_prediction:
        return clipped / (snr + 1)
    return torch.where(snr > 0, clipped / snr.clamp(min=torch.finfo(snr.dtype).tiny),
                       torch.ones_like(snr))


def diffusion_loss(prediction: Any, latents: Any, noise: Any, timesteps: Any,
                   noise_scheduler: Any, v_prediction: bool, training: TrainingConfig,
                   instance_count: int) -> Any:
    """Mean loss of a batch whose first `instance_count` samples are instance images and the
    rest, when prior preservation is on, class images (weighted by the prior-loss weight)."""
    import torch.nn.functional as F

    target = noise_scheduler.get_velocity(latents, noise, timesteps) if v_prediction else noise
    per_sample = F.mse_loss(prediction.float(), target.float(), reduction="none").mean(
        dim=[1, 2, 3])
    if training.min_snr_gamma:
        per_sample = per_sample * min_snr_weights(noise_scheduler, timesteps,
                                                  training.min_snr_gamma, v_prediction)
    if instance_count < len(per_sample):
        return per_sample[:instance_count].mean() + training.prior_loss_weight * \
            per_sample[instance_count:].mean()
    return per_sample.mean()


class NoisePrediction:
    """The Stable Diffusion step: DDPM noise at a uniform timestep (plus the noise offset), the
    UNet's ε or v prediction, `diffusion_loss`. `noise_scheduler` is the training schedule
    (`sampling.make_scheduler("ddpm", prediction)`)."""

    def __init__(self, noise_scheduler: Any, v_prediction: bool):
        self.noise_scheduler, self.v_prediction = noise_scheduler, v_prediction

    def loss(self, unet: Any, latents: Any, hidden: Any, pooled: Any, unet_inputs: Any,
             generator: Any, training: TrainingConfig, instance_count: int, autocast: Any
             ) -> Any:
        """`unet_inputs(dtype)`: the family's extra UNet arguments (SDXL's size ids)."""
        import torch

        device = latents.device
        noise = torch.randn(latents.shape, generator=generator).to(device)
        if training.noise_offset:
            noise += training.noise_offset * torch.randn(
                (latents.shape[0], latents.shape[1], 1, 1), generator=generator).to(device)
        timesteps = torch.randint(0, self.noise_scheduler.config.num_train_timesteps,
                                  (latents.shape[0],), generator=generator).to(device)
        noisy = self.noise_scheduler.add_noise(latents, noise, timesteps)
        kwargs = unet_inputs(torch.float32)
        with autocast():
            prediction = unet(noisy, timesteps, encoder_hidden_states=hidden.to(device),
                              **kwargs).sample
        return diffusion_loss(prediction, latents, noise, timesteps, self.noise_scheduler,
                              self.v_prediction, training, instance_count)
