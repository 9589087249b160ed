"""Help under every input of the Dataset, Extract and Models tabs and the best-step panel
(gradio's `info=`), keyed by elem_id: what it does, the usual value, when to change it.
The Train tab's settings take theirs from lora_for_dummies/train/fields.py HELP."""

from __future__ import annotations

TIPS: dict[str, str] = {
    # -- Dataset tab ---------------------------------------------------------------------------
    "lfd_dataset_name": "The dataset (a folder of images) everything below works on. "
                        "Make one under New dataset and import; 🔄 re-reads the list.",
    "lfd_dataset_concept": "The group of images inside it: main, or an extra concept with its "
                           "own trigger word. Most LoRAs need only main.",
    "lfd_dataset_new_name": "A name for the new dataset folder, e.g. my dog; no /, \\ or .. "
                            "(it must be a valid folder name on Windows too).",
    "lfd_dataset_new_concept": "Leave empty for one subject. Fill it only to train a second "
                               "subject or style with its own trigger word.",
    "lfd_dataset_import_folder": "Full path of a folder of images (and .txt captions) on this "
                                 "computer; they are copied, your originals stay untouched.",
    "lfd_dataset_join_captions": "A picture already here under another name, with another "
                                 "caption: on, its tags are added to the kept caption; off "
                                 "(usual), the import only says so.",
    "lfd_kohya_export_dir": "Folder to write kohya_ss's N_token folders to (N = repeats); only "
                            "needed to train this dataset with kohya_ss.",
    "lfd_kohya_export_res": "Which processed copy to export: high (usual) or low resolution.",
    "lfd_kohya_import_dir": "A kohya training folder (holding folders like 10_mytoken, or their "
                            "img/ parent); repeats and trigger words are kept.",
    "lfd_kohya_import_name": "Name of the dataset to create from it, e.g. my dog.",
    "lfd_dataset_high": "Side in pixels of the high-resolution copies: 768 for SD 1.x/2.x, "
                        "1024 for SDXL; 64–4096, a multiple of 8 (of 64 for bucket).",
    "lfd_dataset_low": "Side in pixels of the low-resolution copies: 512 for SD 1.x/2.x, 768 for "
                       "SDXL; 64–4096, a multiple of 8 (of 64 for bucket).",
    "lfd_dataset_crop": "center: square from the middle (usual). focal: square around the "
                        "detail, for off-centre subjects. bucket: no crop, keeps the shape.",
    "lfd_dataset_tiles": "Cuts very tall or wide images (over 2.5:1) into overlapping squares "
                         "instead of losing the sides. Off unless you have panoramas.",
    "lfd_dataset_flip": "Also saves a mirror image of each picture: twice the images. Leave off "
                        "for text, logos or one-sided features.",
    "lfd_dataset_format": "File type of the processed images: png (lossless, usual), jpeg or "
                          "webp (smaller files).",
    "lfd_dataset_quality": "Only for jpeg/webp: higher = better and bigger; 95 is usual, below "
                           "85 shows artefacts the LoRA may learn.",
    "lfd_caption_stem": "The picture being captioned: click one in the gallery.",
    "lfd_bulk_operation": "What to do to every caption (or only the images chosen below). "
                          "Preview first; Undo reverts the last Apply.",
    "lfd_bulk_text": "Tags separated by commas (e.g. my_dog, photo), the text to search for, "
                     "or the tag to rename. Click a row of the tag table to fill it in.",
    "lfd_bulk_replacement": "For Search and replace: the new text (empty deletes what was "
                            "found). For Rename a tag: the tag's new name.",
    "lfd_bulk_regex": "Only for Search and replace: treat the search as a regular expression. "
                      "Leave off unless you know regex.",
    "lfd_bulk_keep": "Only for Sort tags: how many first tags stay in place (1 keeps the "
                     "trigger word first); 0 sorts all.",
    "lfd_bulk_selection": "Limit bulk operations to these images; leave empty for all images "
                          "of the concept.",
    "lfd_autocaption_model": "Writes each image's caption: WD14 tagger for booru tags (anime "
                             "SDXL: Illustrious, NoobAI, Pony), Florence-2 or BLIP for "
                             "sentences (Flux, photo models).",
    "lfd_autocaption_option": "A folder on this computer (never downloads), or a Hugging Face "
                              "repository such as SmilingWolf/wd-vit-tagger-v3: downloaded once, "
                              "its size said first.",
    "lfd_tagger_general": "A tag is written when the tagger is at least this sure (0–1). Usual "
                          "0.35; raise to 0.5 for fewer, surer tags, lower to 0.25 for more.",
    "lfd_tagger_character": "The same for character names (0–1). Usual 0.85: a wrong character "
                            "name teaches the LoRA the wrong thing; lower only if one is missed.",
    "lfd_tagger_rating": "Add one rating tag (general, sensitive, questionable, explicit) at the "
                         "end. Off by default; turn on for models whose prompts use ratings.",
    "lfd_tagger_escape": "Put a backslash before each parenthesis: only for captions pasted "
                         "into A1111 prompts, where bare ones mean attention. Off for training.",
    "lfd_tagger_traits": "For a character LoRA: leave out hair, eyes, ears, tail, horns, skin "
                         "and build tags, so the trigger word learns them. Preview lists them.",
    "lfd_tagger_blacklist": "Comma-separated tags never written, e.g. simple background. "
                            "Underscores or spaces both match.",
    "lfd_autocaption_mode": "Images that already have a caption: skip (usual, keeps your work), "
                            "append the new text, or overwrite it.",
    "lfd_preflight_resolution": "The resolution you will train at (512 for SD 1.x, 1024 for "
                                "SDXL); smaller images are flagged.",
    # -- Best-step panel -----------------------------------------------------------------------
    "lfd_best_prompt": "The prompt every cell is drawn with; include the trigger word. Empty "
                       "uses the run's first sample prompt.",
    "lfd_best_seed": "The same seed in every cell so only step, strength and CFG differ; -1 "
                     "uses the run's sample seed.",
    "lfd_best_strengths": "LoRA strengths to compare, separated by commas (-10 to 10); "
                          "0.4–1.0 is the usual range.",
    "lfd_best_cfgs": "CFG (prompt strength) values to compare, separated by commas (0–50); "
                     "5–7 is usual.",
    "lfd_best_chosen": "The cell you clicked in the grid; Use this cell applies it.",
    # -- Extract tab ---------------------------------------------------------------------------
    "lfd_extract_base": "The original model the fine-tune was made from (same family, e.g. "
                        "both SD 1.5, or both the same Flux transformer).",
    "lfd_extract_tuned": "The fine-tuned (e.g. dreambooth) checkpoint; its difference from the "
                         "base becomes the LoRA.",
    "lfd_extract_name": "File name of the new LoRA in the Lora folder; use it as "
                        "<lora:name:1>.",
    "lfd_extract_rank": "Detail kept per layer: 32 is usual, 64–128 closer to the fine-tune "
                        "but bigger; the maximum for dynamic ranks.",
    "lfd_extract_threshold": "Only for dynamic ranks: how much of each layer's change to keep; "
                             "0.9 is usual, higher = closer and bigger.",
    "lfd_extract_conv_rank": "Rank for the convolution layers too (e.g. 8–16) for more detail "
                             "and a bigger file; 0 = leave them out (usual). SD only: Flux "
                             "has no convolution layers, keep 0.",
    "lfd_extract_text": "Also extract the text encoder's change. Keep on; an unchanged text "
                        "encoder is skipped and reported. Flux: ignored (its text encoders "
                        "are separate files).",
    "lfd_extract_ema": "Use the fine-tune's EMA (averaged) weights, if it saved them; usually "
                       "off. SD only.",
    "lfd_extract_clamp": "Cuts extreme values at this quantile (e.g. 0.99) as some tools do; "
                         "0 = off (usual), since it costs accuracy.",
    "lfd_extract_device": "cpu works everywhere; cuda (the GPU) is much faster if it has a few "
                          "GB free.",
    # measured on a 2-core CPU (docs/performance.md): SD 1.5 11-15 s, SDXL 38 s
    "lfd_extract_device_cpu": "No CUDA GPU found, so the CPU extracts: measured on 2 cores, "
                              "about 15 s for an SD 1.5 pair, 40 s for SDXL.",
    "lfd_extract_dtype": "Precision of the saved file: fp16 (usual, half the size of fp32), "
                         "bf16, or fp32 (exact, largest).",
    "lfd_extract_overwrite": "Replace a LoRA that already has this name; off = stop instead.",
    "lfd_tools_lora": "The LoRA to inspect, rescale or resize.",
    "lfd_tools_output": "Name of the new file the tools below write in the Lora folder; the "
                        "original stays as it is.",
    "lfd_tools_overwrite": "Replace a LoRA that already has the Save as name; off = stop "
                           "instead.",
    "lfd_tools_factor": "For a LoRA too strong (\"fried\"): 0.6 makes it at 1.0 act as the old "
                        "one at 0.6; 1 = unchanged.",
    "lfd_tools_rank": "Rank of the smaller copy: lower = smaller file, less detail; 16 is "
                      "usual. The maximum for dynamic ranks.",
    "lfd_tools_threshold": "Only for dynamic ranks: how much of each layer to keep; 0.9 is "
                           "usual, higher = closer and bigger.",
    "lfd_tools_merge_list": "Two or more LoRAs (or saved steps of a run) to combine into one "
                            "file.",
    "lfd_tools_weights": "One weight per LoRA above, separated by commas; empty = equal "
                         "shares (0.5, 0.5 for two).",
    "lfd_tools_merge_rank": "0 = exact merge (ranks add up, bigger file); e.g. 32 squeezes the "
                            "result to that rank.",
    "lfd_tools_convert_path": "Path of an old .pt (or diffusers/peft .safetensors) on this "
                              "computer; several separated by commas.",
    # -- Models tab ----------------------------------------------------------------------------
    "lfd_models_checkpoint": "A model from the models folder; its family, variant, parts and "
                             "precision are shown below. 🔄 re-reads the folder.",
    "lfd_models_lora": "A LoRA from the Lora folder: its kind, base model, where it loads "
                       "and anything wrong with it. 🔄 re-reads the folder.",
}
