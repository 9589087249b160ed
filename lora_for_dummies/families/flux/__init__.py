"""Flux.1 (dev / Krea / schnell) and Chroma: the file facts — BFL-layout names and shapes,
recognition of the transformer and of its separate text-encoder and VAE files, kohya LoRA
names, the BFL ⇄ diffusers map, a tiny synthetic writer and the loaders' key rules."""
