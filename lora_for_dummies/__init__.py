"""LoRA for Dummies: from a folder of images to a working LoRA, inside the webui or standalone.

The core package imports neither gradio nor the webui; heavy libraries (torch, diffusers,
transformers, peft) are imported inside the functions that need them so that the webui's
start-up stays fast.
"""

__version__ = "0.1.0"
