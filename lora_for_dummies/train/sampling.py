"""Sample images during training ("babysitting"), as the webui would render them.

Fixed seeds, classifier-free guidance, the samplers users know (Euler a, Euler, DPM++ 2M
Karras), clip skip as in training, the VAE decoded in fp32 (NAI-style VAEs give black images in
fp16). Each PNG carries a `parameters` text chunk in the webui's infotext format, so PNG Info
and "Send to txt2img" work.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lora_for_dummies.atomic import atomic_path
from lora_for_dummies.families import bundled_config, get_family
from lora_for_dummies.train.config import SampleConfig
from lora_for_dummies.train.prediction import Prediction
from lora_for_dummies.train.text import encode_tokens, token_batch

SAMPLER_NAMES = {"euler_a": "Euler a", "euler": "Euler", "dpmpp_2m_karras": "DPM++ 2M"}


def make_scheduler(sampler: str, prediction: Prediction) -> Any:
    """A sampler's scheduler, or with "ddpm" the noise schedule training adds noise with; both
    on the schedule `prediction` names (zero terminal SNR: rescaled betas, trailing steps)."""
    from diffusers import (
        DDPMScheduler,
        DPMSolverMultistepScheduler,
        EulerAncestralDiscreteScheduler,
        EulerDiscreteScheduler,
    )

    config = bundled_config("sd1", "scheduler")
    config.update(prediction.scheduler_options())
    config.pop("_class_name", None)
    if sampler == "ddpm":
        return DDPMScheduler.from_config(config)
    if sampler == "euler_a":
        return EulerAncestralDiscreteScheduler.from_config(config)
    if sampler == "euler":
        return EulerDiscreteScheduler.from_config(config)
    # Karras sigmas from a zero-SNR schedule's σ_max ≈ 4096 spend most steps at pure noise:
    # there the trailing timesteps serve instead.
    return DPMSolverMultistepScheduler.from_config(
        config, algorithm_type="dpmsolver++", solver_order=2,
        use_karras_sigmas=not prediction.zero_terminal_snr)


def guidance_rescale(config: SampleConfig, prediction: Prediction) -> float:
    """CFG rescale is for zero-terminal-SNR models (their cards advise 0.7); others render
    without it, as the webui does by default."""
    return config.guidance_rescale if prediction.zero_terminal_snr else 0.0


@dataclass
class SampleContext:
    family: str
    unet: Any
    vae: Any
    text_encoders: list[Any]
    clip_skip: int
    prediction: Prediction
    model_name: str
    model_hash: str
    lora_name: str
    job: Any = None  # the run's TrainJob, for families that tokenize from the job's files
    info: Any = None  # the base's ModelInfo (its variant)
    # {prompt: its (hidden, pooled) conditioning}, encoded before the text encoders left the
    # GPU: a family whose samples read it (`Family.samples_read_cached_prompts`) renders
    # without them
    text_cache: Any = None


def infotext(prompt: str, config: SampleConfig, seed: int, context: SampleContext) -> str:
    sampler = SAMPLER_NAMES[config.sampler]
    schedule = "Karras" if config.sampler == "dpmpp_2m_karras" and not \
        context.prediction.zero_terminal_snr else "Automatic"
    lines = [f"{prompt} <lora:{context.lora_name}:1>", f"Negative prompt: {config.negative}"]
    settings = [f"Steps: {config.steps}", f"Sampler: {sampler}", f"Schedule type: {schedule}",
                f"CFG scale: {config.cfg:g}", f"Seed: {seed}",
                f"Size: {config.width}x{config.height}", f"Model hash: {context.model_hash}",
                f"Model: {context.model_name}"]
    if context.clip_skip > 1:
        settings.append(f"Clip skip: {context.clip_skip}")
    if context.prediction.zero_terminal_snr:  # the webui's own infotext key and value
        settings.append("Noise Schedule: Zero Terminal SNR")
    if guidance_rescale(config, context.prediction):
        settings.append(f"CFG Rescale: {config.guidance_rescale:g}")
    return "\n".join(lines + [", ".join(settings)])


def render(context: SampleContext, prompt: str, config: SampleConfig, seed: int) -> Any:
    """One image (PIL) for `prompt` with the current weights, as the family samples."""
    return get_family(context.family).render_sample(context, prompt, config, seed)


def render_unet(context: SampleContext, prompt: str, config: SampleConfig, seed: int) -> Any:
    """A Stable Diffusion family's sample: classifier-free guidance with the chosen sampler."""
    import torch
    from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import rescale_noise_cfg
    from PIL import Image

    from lora_for_dummies.train.stored_precision import compute_dtype

    device = next(context.unet.parameters()).device
    dtype = compute_dtype(context.unet)  # a UNet may keep its weights narrower
    scheduler = make_scheduler(config.sampler, context.prediction)
    rescale = guidance_rescale(config, context.prediction)
    scheduler.set_timesteps(config.steps, device=device)
    tokens = token_batch([config.negative, prompt], 3)
    with torch.no_grad():
        hidden, pooled = encode_tokens(context.family, context.text_encoders, tokens,
                                       context.clip_skip)
        generator = torch.Generator().manual_seed(seed)
        channels = context.unet.config.in_channels if context.unet.config.in_channels == 4 else 4
        latents = torch.randn((1, channels, config.height // 8, config.width // 8),
                              generator=generator).to(device, dtype)
        latents = latents * scheduler.init_noise_sigma
        size = [config.height, config.width, 0, 0, config.height, config.width]
        kwargs = get_family(context.family).unet_inputs(pooled, [size] * 2, device, dtype)
        for t in scheduler.timesteps:
            model_input = scheduler.scale_model_input(torch.cat([latents] * 2), t)
            noise = context.unet(model_input, t, encoder_hidden_states=hidden.to(dtype),
                                 **kwargs).sample
            uncond, cond = noise.chunk(2)
            guided = uncond + config.cfg * (cond - uncond)
            if rescale:
                guided = rescale_noise_cfg(guided, cond, guidance_rescale=rescale)
            latents = scheduler.step(guided, t, latents, generator=generator).prev_sample
        vae = context.vae
        vae_dtype = compute_dtype(vae)
        if vae_dtype != torch.float32:  # fp16 VAEs of NAI lineage decode to NaN → black
            vae.to(torch.float32)
        decoded = vae.decode(latents.float() / vae.config.scaling_factor).sample
        if vae_dtype != torch.float32:
            vae.to(vae_dtype)
    pixels = ((decoded[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu()
    return Image.fromarray(pixels.numpy())


def save_sample(image: Any, path: Path, text: str) -> Path:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", text)
    with atomic_path(path) as tmp:
        image.save(tmp, "PNG", pnginfo=info)
    return path


def sample_label(path: str | Path) -> str:
    """`000025-0.png` as a person reads it: "step 25 · prompt 1" (prompts counted from 1, as
    the Samples' prompt list shows them); another name is shown as it is."""
    step, _, index = Path(path).stem.partition("-")
    if not (step.isdigit() and index.isdigit()):
        return Path(path).stem
    return f"step {int(step)} · prompt {int(index) + 1}"


def render_step_samples(context: SampleContext, prompts: list[str], config: SampleConfig,
                        folder: Path, step: int, on_image: Any) -> list[tuple[Path, Any]]:
    """One image per prompt (seed `config.seed + index`) into `folder/<step>-<index>.png`,
    each with its infotext; `on_image(path)` after each is written."""
    written = []
    for index, prompt in enumerate(prompts):
        seed = config.seed + index
        image = render(context, prompt, config, seed)
        path = save_sample(image, folder / f"{step:06d}-{index}.png",
                           infotext(prompt, config, seed, context))
        on_image(str(path))
        written.append((path, image))
    return written
