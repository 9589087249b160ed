"""LoRA training: one loop for the UI, the CLI and `accelerate launch`."""
