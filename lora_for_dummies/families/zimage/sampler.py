"""Z-Image samples for babysitting: Euler on the flow from pure noise to the image with the
scheduler Tongyi-MAI ships (`FlowMatchEulerDiscreteScheduler`, static shift 3.0,
`assets/configs/zimage/scheduler.json`), the transformer called as diffusers' ZImagePipeline
calls it (`objective.predict_velocity`), and classifier-free guidance with the negative prompt
when the samples' CFG is above 1 (the base model wants it; Turbo samples at CFG 1)."""

from __future__ import annotations

from typing import Any

from lora_for_dummies.families.base import bundled_config


def _conditioning(context: Any, family: Any, prompt: str, device: Any) -> tuple[Any, Any]:
    cached = (context.text_cache or {}).get(prompt)
    if cached is not None:  # encoded before Qwen3 left the GPU
        return tuple(t.to(device) for t in cached)
    tokens = family.tokenize([prompt], context.job, context.info)
    return family.encode(context.text_encoders, tokens, 1)


def render_zimage(context: Any, prompt: str, config: Any, seed: int) -> Any:
    """One image (PIL) for `prompt` with the current weights."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler
    from PIL import Image

    from lora_for_dummies.families import get_family
    from lora_for_dummies.families.zimage.objective import predict_velocity
    from lora_for_dummies.train.stored_precision import compute_dtype

    family = get_family(context.family)
    transformer, vae = context.unet, context.vae
    device = next(transformer.parameters()).device
    dtype = compute_dtype(transformer)
    schedule = bundled_config(context.family, "scheduler")
    schedule.pop("_class_name", None)
    scheduler = FlowMatchEulerDiscreteScheduler.from_config(schedule)
    scheduler.set_timesteps(max(config.steps, 1), device=device)
    height, width = config.height // 8, config.width // 8
    with torch.no_grad():
        positive = _conditioning(context, family, prompt, device)
        negative = _conditioning(context, family, config.negative, device) \
            if config.cfg > 1 else None
        generator = torch.Generator().manual_seed(seed)
        channels = vae.config.latent_channels
        latents = torch.randn((1, channels, height, width), generator=generator).to(device, dtype)
        for t in scheduler.timesteps:
            sigma = (t / 1000).reshape(1)
            velocity = predict_velocity(transformer, latents, sigma, *positive)
            if negative is not None:
                unguided = predict_velocity(transformer, latents, sigma, *negative)
                velocity = unguided + config.cfg * (velocity - unguided)
            latents = scheduler.step(velocity.float(), t, latents.float()).prev_sample.to(dtype)
        decoded = vae.decode(latents.float() / vae.config.scaling_factor
                             + vae.config.shift_factor).sample
    pixels = ((decoded[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu()
    return Image.fromarray(pixels.numpy())
