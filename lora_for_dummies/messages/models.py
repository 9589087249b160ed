"""Messages about model files, families and kinds of LoRA."""

from __future__ import annotations

from lora_for_dummies.messages.base import FAMILIES, KINDS, MODELS, Message

# -- Model files (`<file>: <reason>`) --------------------------------------------------------
_FILE = "<file>: "
MODEL_NOT_FOUND = Message(
    MODELS, "file not found", "The model file named is not there (moved, renamed, deleted).",
    "Press 🔄 next to the model list and pick it again.", before=_FILE)
MODEL_IS_FOLDER = Message(
    MODELS, "is a folder, not a model file", "A folder was given where a model file belongs "
    "(a diffusers folder, for example).", "Use a single-file checkpoint (`.safetensors`).",
    before=_FILE)
MODEL_EMPTY = Message(
    MODELS, "file is empty (0 bytes); the download or copy did not finish",
    "The file has no contents.", "Download or copy it again.", before=_FILE)
NOT_A_MODEL = Message(
    MODELS, "this is {what}",
    "The file is not a model, whatever its name says: the first bytes tell what it is (a "
    "JPEG image, a web page saved instead of a download, a Git LFS pointer, a zip to unpack, "
    "…).", "Use the model file itself (`git lfs pull` for a pointer, unpack a zip).",
    before=_FILE)
MODEL_TRUNCATED = Message(
    MODELS, "file is truncated: tensor {key!r} ends past the end of the file; download it again",
    "The download or copy stopped before the end.", "Download it again.", before=_FILE)
PICKLE_REFUSED = Message(
    MODELS, "refused: it holds Python objects besides tensors{named}, and loading them could "
    "run code, so it was not loaded. Use a .safetensors file instead, or convert it with a "
    "tool you trust",
    "A `.ckpt` is a pickle, which can run code. It is only loaded with "
    "`torch.load(weights_only=True)`: a pickle that needs anything but tensors is refused, so "
    "no code in it runs.", "Use a `.safetensors` version of the model.", before=_FILE)
WEBUI_UNPICKLER = Message(
    MODELS, "refused by the webui's safe unpickler (it holds more than tensors); see the "
    "console for the webui's reason",
    "Inside the webui, its own safe unpickler refused the `.ckpt`.",
    "Use a `.safetensors` version of the model.", before=_FILE)
IS_LORA = Message(
    MODELS, "this is a LoRA, not a base model: put it in the Lora folder and use it in a prompt "
    "as <lora:name:1>", "A LoRA was chosen where a base checkpoint belongs.",
    "Put it in the Lora folder; pick a full checkpoint as the base.", before=_FILE)
IS_REFINER = Message(
    MODELS, "this is an SDXL refiner; LoRAs are trained on the SDXL base model, not on the "
    "refiner", "The SDXL refiner is not a base for LoRAs.",
    "Pick an SDXL base model (or a model made from one).", before=_FILE)
IS_VAE = Message(
    MODELS, "this is a VAE, not a full checkpoint", "The file holds only a VAE.",
    "Pick a full checkpoint; a VAE goes into the webui's VAE folder.", before=_FILE)
IS_EMBEDDING = Message(
    MODELS, "this is a textual-inversion embedding, not a model",
    "The file is an embedding (used in prompts by its name).",
    "Put it in the webui's `embeddings` folder; pick a full checkpoint as the base.",
    before=_FILE)
UNKNOWN_ARCHITECTURE = Message(
    MODELS, "unknown architecture: not a {families} model ({count} tensors, e.g. {example!r})",
    "The file holds tensors, but not those of a model family this version reads.",
    "Pick a checkpoint of one of the families named (SD 1.x, SD 2.x, SDXL, or a Flux.1 "
    "transformer).", before=_FILE)
NO_TEXT_ENCODER = Message(
    MODELS, "has a UNet but no text encoder that matches SD 1.x, 2.x or SDXL; it cannot be "
    "trained or extracted as a full model",
    "The file is a UNet alone, or its text encoder is of an unknown kind.",
    "Use the full checkpoint that has the text encoder in it.", before=_FILE)

# -- Model families on this host; Flux's separate parts -------------------------------------
SD2_ON_FORGE_NEO = Message(
    FAMILIES, "Forge Neo cannot run SD 2.x models, so they are not offered here; the command "
    "line still extracts and converts SD 2.x files", "Forge Neo removed SD 2.x.",
    "Train SD 2.x in A1111, Forge or the standalone app.")
FLUX_NEEDS_FORGE_NEO = Message(
    FAMILIES, "Flux needs Forge Neo (A1111 cannot run Flux models); on this host, inspect and "
    "extract Flux files from the command line (lfd inspect / lfd extract)",
    "A1111 and Forge classic do not run Flux, so their tabs leave it out.",
    "Train Flux in Forge Neo or the standalone app (`lfd serve`).")
FLUX_PARTS_MISSING = Message(
    FAMILIES, "Flux needs {parts} beside the transformer (or in models/text_encoder and "
    "models/VAE), or name each in the job's [model] table (text_encoder, text_encoder_2, vae)",
    "A Flux transformer trains with its CLIP-L, T5-XXL and VAE files, which were not found.",
    "Put clip_l, t5xxl_fp16 (or _fp8_e4m3fn) and ae.safetensors where Forge Neo keeps them.")
FLUX_T5_TOKENIZER = Message(
    FAMILIES, "Flux needs T5's tokenizer: name a folder with tokenizer.json or spiece.model (for "
    "example a diffusers FLUX.1 folder's tokenizer_2, or Forge's backend/huggingface/"
    "black-forest-labs/FLUX.1-dev/tokenizer_2) as the job's model.tokenizer_2 ({why})",
    "T5's tokenizer is not inside the model files.",
    "In Forge Neo it is found by itself; elsewhere put a tokenizer_2 folder beside the model.")
ZIMAGE_PARTS_MISSING = Message(
    FAMILIES, "Z-Image needs {parts} beside the transformer (or in models/text_encoder and "
    "models/VAE), or name each in the job's [model] table (text_encoder, vae)",
    "A Z-Image transformer trains with its Qwen3-4B text encoder and the Flux VAE, which were "
    "not found.", "Put qwen_3_4b.safetensors and ae.safetensors where Forge Neo keeps them.")
ZIMAGE_TOKENIZER = Message(
    FAMILIES, "Z-Image needs Qwen3's tokenizer: name a folder with its tokenizer.json (for "
    "example a diffusers Z-Image folder's tokenizer) as the job's model.tokenizer ({why})",
    "Qwen3's tokenizer is not inside the model files.",
    "Put the tokenizer folder of Tongyi-MAI/Z-Image (tokenizer.json and tokenizer_config.json) "
    "beside the transformer as tokenizer/, or name it in the job.")

# -- Kinds of LoRA (DoRA, LoHa, LoKr, full) --------------------------------------------------
FLUX_LORA_ONLY = Message(
    KINDS, "Flux trains the lora kind only here, not {kind}: set network.kind = \"lora\"",
    "Flux's fused attention ties the q, k and v LoRAs together; the other kinds have no such "
    "tie yet.", "Choose Kind of LoRA: lora (Network section).")
LYCORIS_NOT_HANDLED = Message(
    KINDS, "{file} holds {kinds} modules (LyCORIS); this works on LoRA and LoCon files only "
    "(lfd lora-info describes it)",
    "Resize, merge and convert re-factor a LoRA's up and down weights; a LoHa, LoKr, DoRA or "
    "full file has none. It loads in the webuis and ComfyUI as it is.",
    "Use it as it is; rescale works on it (all but DoRA).")
DORA_NOT_RESCALABLE = Message(
    KINDS, "{kind} modules cannot be rescaled: their change is renormalised, not proportional "
    "to the strength; lower the strength in the prompt instead (e.g. <lora:name:0.6>)",
    "A DoRA module rescales the changed weight to a learned magnitude, so no file is the same "
    "LoRA at another strength.", "Set the strength in the prompt: <lora:name:0.6>.")
DORA_NEEDS_WEIGHT = Message(
    KINDS, "a DoRA module's change depends on the layer's own weight",
    "A DoRA change was asked for without the base model's layer it applies to.",
    "Apply it to a loaded base model (the webui, ComfyUI, or this app's previews do).")
