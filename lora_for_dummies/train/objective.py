"""The training objective: what the UNet's prediction is compared with, and how each sample
of the batch counts — ε or v target, min-SNR-γ weighting, prior-preservation weight."""

from __future__ import annotations

from typing import Any

from lora_for_dummies.train.config import TrainingConfig


def diffusion_loss(prediction: Any, latents: Any, noise: Any, timesteps: Any,
                   noise_scheduler: Any, v_prediction: bool, training: TrainingConfig,
                   instance_count: int) -> Any:
    """Mean loss of a batch whose first `instance_count` samples are instance images and the
    rest, when prior preservation is on, class images (weighted by the prior-loss weight)."""
    import torch
    import torch.nn.functional as F

    target = noise_scheduler.get_velocity(latents, noise, timesteps) if v_prediction else noise
    per_sample = F.mse_loss(prediction.float(), target.float(), reduction="none").mean(
        dim=[1, 2, 3])
    if training.min_snr_gamma:  # Hang et al. 2023; v-prediction divides by SNR + 1
        alphas = noise_scheduler.alphas_cumprod.to(latents.device)[timesteps]
        snr = alphas / (1 - alphas)
        weight = torch.clamp(snr, max=training.min_snr_gamma)
        per_sample = per_sample * weight / (snr + 1 if v_prediction else snr)
    if instance_count < len(per_sample):
        return per_sample[:instance_count].mean() + training.prior_loss_weight * \
            per_sample[instance_count:].mean()
    return per_sample.mean()
