"""Small widths the tiny test / demo models of several families share (each family's module
says the rest of its tiny configuration)."""

from __future__ import annotations

TINY_TEXT = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4,
                 num_hidden_layers=2, projection_dim=32)
# SD's VAE geometry (four blocks: 8× smaller latents), at small widths. With fewer blocks a
# 512 px image would give a 256×256 latent (65 k attention tokens): slower per step than SD 1.5.
TINY_VAE = dict(block_out_channels=[8, 16, 32, 32], down_block_types=["DownEncoderBlock2D"] * 4,
                up_block_types=["UpDecoderBlock2D"] * 4, layers_per_block=1, norm_num_groups=8,
                sample_size=64)
