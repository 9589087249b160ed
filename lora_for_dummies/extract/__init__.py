"""LoRA extraction: the low-rank difference between a fine-tuned checkpoint and its base."""
