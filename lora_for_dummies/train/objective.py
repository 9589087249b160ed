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
