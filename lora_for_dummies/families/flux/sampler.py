"""Flux samples for babysitting: Euler on the flow from pure noise to the image, dev's
distilled guidance (no negative prompt, no classifier-free guidance), the time shift BFL's
sampler uses for the image's size (`FlowMatchEulerDiscreteScheduler` with dynamic shifting,
as diffusers' FluxPipeline sets it)."""

from __future__ import annotations

from typing import Any

from lora_for_dummies.families.base import bundled_config


def _mu(tokens: int, config: dict[str, Any]) -> float:
    """BFL's shift for an image of `tokens` packed tokens (linear in the token count)."""
    slope = (config["max_shift"] - config["base_shift"]) / (
        config["max_image_seq_len"] - config["base_image_seq_len"])
    return config["base_shift"] + slope * (tokens - config["base_image_seq_len"])


def render_flux(context: Any, prompt: str, config: Any, seed: int, guidance: float) -> Any:
    """One image (PIL) for `prompt` with the current weights."""
    import numpy as np
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler
    from PIL import Image

    from lora_for_dummies.families import get_family
    from lora_for_dummies.families.flux.objective import predict_flow
    from lora_for_dummies.train.stored_precision import compute_dtype

    family = get_family(context.family)
    transformer, vae = context.unet, context.vae
    device = next(transformer.parameters()).device
    dtype = compute_dtype(transformer)
    schedule = bundled_config(context.family, "scheduler")
    schedule.pop("_class_name", None)
    scheduler = FlowMatchEulerDiscreteScheduler.from_config(schedule)
    height, width = config.height // 8, config.width // 8
    steps = max(config.steps, 1)
    sigmas = np.linspace(1.0, 1 / steps, steps)
    scheduler.set_timesteps(sigmas=sigmas, mu=_mu(height * width // 4, schedule), device=device)
    with torch.no_grad():
        cached = (context.text_cache or {}).get(prompt)
        if cached is not None:  # encoded before T5 left the GPU
            hidden, pooled = (t.to(device) if t is not None else None for t in cached)
        else:
            tokens = family.tokenize([prompt], context.job, context.info)
            hidden, pooled = family.encode(context.text_encoders, tokens, 1)
        generator = torch.Generator().manual_seed(seed)
        channels = vae.config.latent_channels
        latents = torch.randn((1, channels, height, width), generator=generator).to(device, dtype)
        for t in scheduler.timesteps:
            sigma = (t / 1000).reshape(1)
            velocity = predict_flow(transformer, latents, sigma, hidden, pooled, guidance)
            latents = scheduler.step(velocity, t, latents).prev_sample
        decoded = vae.decode(latents.float() / vae.config.scaling_factor
                             + vae.config.shift_factor).sample
    pixels = ((decoded[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu()
    return Image.fromarray(pixels.numpy())
