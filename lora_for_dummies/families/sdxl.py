"""Stable Diffusion XL (and Pony, Illustrious, NoobAI, Animagine built on it): two text
encoders, a pooled embedding and size conditioning, 1024 px; VRAM tiers for 8–24 GB cards."""

from __future__ import annotations

from typing import Any

from lora_for_dummies.checkpoints.model_lines import SDXL_SKIP
from lora_for_dummies.families.base import TextEncoderSpec
from lora_for_dummies.families.stable_diffusion import StableDiffusionFamily
from lora_for_dummies.families.tiny import TINY_TEXT, TINY_VAE

_MARKS = ("conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight",
          "conditioner.embedders.1.model.ln_final.weight")
_REFINER_MARK = "conditioner.embedders.0.model.ln_final.weight"


class SDXL(StableDiffusionFamily):
    def recognises(self, keys: Any) -> bool:
        return all(mark in keys for mark in _MARKS) or _REFINER_MARK in keys

    def refusal(self, keys: Any) -> str:
        if not all(mark in keys for mark in _MARKS):
            from lora_for_dummies import messages as msg

            return msg.IS_REFINER.text
        return ""

    def variant(self, prediction: str, inpainting: bool, zero_terminal_snr: bool) -> str:
        return super().variant(prediction, inpainting, zero_terminal_snr).replace(
            self.short_title, "SDXL base", 1)

    def unused_final_layers(self, component: str, clip_skip: int) -> int:
        # The second encoder runs to its last layer for the pooled embedding.
        return 0 if component == "text_encoder_2" else max(clip_skip, 2) - 1

    def encode_text(self, encoders: list[Any], flat_tokens: Any, clip_skip: int
                    ) -> tuple[Any, Any]:
        import torch

        first = encoders[0](flat_tokens, output_hidden_states=True)
        second = encoders[1](flat_tokens, output_hidden_states=True)
        skip = max(clip_skip, 2)  # SDXL always uses the penultimate layers
        hidden = torch.cat([first.hidden_states[-skip], second.hidden_states[-skip]], dim=-1)
        return hidden, second.text_embeds

    def unet_inputs(self, pooled: Any, size_rows: list[list[int]], device: Any, dtype: Any
                    ) -> dict[str, Any]:
        import torch

        return {"added_cond_kwargs": {
            "text_embeds": pooled.to(device, dtype),
            "time_ids": torch.tensor(size_rows, dtype=dtype, device=device)}}

    def wizard(self, vram_gb: float) -> Any:
        """One of the 8 / 12 / 16 / 24 GB tiers of `train.vram_tiers` (None without a GPU)."""
        if vram_gb <= 0:
            return None
        from lora_for_dummies.train import wizard

        return wizard.choose_sdxl(vram_gb, wizard.bf16_supported(),
                                  wizard.eight_bit_adam_available())


_TINY_UNET = dict(block_out_channels=[32, 64], attention_head_dim=[2, 4], cross_attention_dim=80,
                  transformer_layers_per_block=[1, 2], addition_time_embed_dim=8,
                  projection_class_embeddings_input_dim=80, sample_size=8,
                  down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
                  up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"])

FAMILY = SDXL(
    key="sdxl", title="Stable Diffusion XL", short_title="SDXL",
    text_encoders=(TextEncoderSpec("text_encoder", "conditioner.embedders.0.transformer.", "clip",
                                   False, "lora_te1", "clip_l", ("lora_te", "lora_te1")),
                   TextEncoderSpec("text_encoder_2", "conditioner.embedders.1.model.", "openclip",
                                   True, "lora_te2", "clip_g", ("lora_te2",))),
    kohya_unet_style="sgm", base_model_version="sdxl_base_v1-0",
    modelspec_architecture="stable-diffusion-xl-v1-base", sd_version="SDXL",
    implementation="https://github.com/Stability-AI/generative-models",
    native_resolution=1024, metadata_resolution=1024, process_resolutions=(1024, 768),
    clip_skip_default=(1, "standard for SDXL" + SDXL_SKIP),
    train_defaults={"training.resolution": 1024, "samples.width": 1024, "samples.height": 1024},
    gpu_seconds_per_step=1.6, full_size_unet_parameters=2.57e9, rough_vram_gb=12.0,
    base_vram_gb={1024: 20.0}, stores_alphas_cumprod=False,
    tiny_overrides={
        # The two encoders get different widths: with equal widths diffusers' own loader silently
        # puts encoder 1's weights into encoder 2, which would hide mapping mistakes.
        "unet": _TINY_UNET, "vae": TINY_VAE, "text_encoder": TINY_TEXT,
        "text_encoder_2": dict(TINY_TEXT, hidden_size=48, intermediate_size=53, projection_dim=32),
    },
)
