"""Our LoRAs carry the metadata kohya's sd-scripts writes, in its formats, so that the webuis,
Civitai and kohya's own tools read them the same way. The key lists below are kohya's, read
from kohya-ss/sd-scripts at commit 48d368fa (`train_network.py`,
`networks/extract_lora_from_models.py`, `library/sai_model_spec.py`)."""

from __future__ import annotations

import json

import pytest
from lora_fixtures import write_tuned
from train_fixtures import tiny_job

from lora_for_dummies.extract.run import ExtractSettings, extract_lora
from lora_for_dummies.lora.format import load_lora
from lora_for_dummies.lora.lowrank import RankRule
from lora_for_dummies.train.loop import Trainer

# library/sai_model_spec.py build_metadata(…, lora=True): the modelspec keys of a LoRA.
MODELSPEC = {"modelspec.sai_model_spec", "modelspec.architecture", "modelspec.implementation",
             "modelspec.implementation_version", "modelspec.title", "modelspec.resolution",
             "modelspec.date", "modelspec.prediction_type"}
# networks/extract_lora_from_models.py: the "minimum metadata" of an extracted LoRA.
EXTRACT = {"ss_v2", "ss_base_model_version", "ss_network_module", "ss_network_dim",
           "ss_network_alpha", "ss_network_args"}
# train_network.py's keys for a DreamBooth-style run (folders, not a dataset config file).
TRAIN = {
    "ss_adaptive_noise_scale", "ss_base_model_version", "ss_batch_size_per_device",
    "ss_bucket_info", "ss_bucket_no_upscale", "ss_min_bucket_reso", "ss_max_bucket_reso",
    "ss_cache_latents", "ss_caption_dropout_every_n_epochs",
    "ss_caption_dropout_rate", "ss_caption_tag_dropout_rate", "ss_clip_skip", "ss_color_aug",
    "ss_dataset_dirs", "ss_debiased_estimation", "ss_enable_bucket", "ss_epoch",
    "ss_face_crop_aug_range", "ss_flip_aug", "ss_fp8_base", "ss_fp8_base_unet",
    "ss_full_fp16", "ss_gradient_accumulation_steps", "ss_gradient_checkpointing",
    "ss_huber_c", "ss_huber_scale", "ss_huber_schedule", "ss_ip_noise_gamma",
    "ss_ip_noise_gamma_random_strength", "ss_keep_tokens", "ss_learning_rate", "ss_loss_type",
    "ss_lowram", "ss_lr_scheduler", "ss_lr_warmup_steps", "ss_max_grad_norm",
    "ss_max_token_length", "ss_max_train_steps", "ss_min_snr_gamma", "ss_mixed_precision",
    "ss_multires_noise_discount", "ss_multires_noise_iterations", "ss_network_alpha",
    "ss_network_args", "ss_network_dim", "ss_network_dropout", "ss_network_module",
    "ss_new_sd_model_hash", "ss_new_vae_hash", "ss_noise_offset",
    "ss_noise_offset_random_strength", "ss_num_batches_per_epoch", "ss_num_epochs",
    "ss_num_reg_images", "ss_num_train_images", "ss_optimizer", "ss_output_name",
    "ss_prior_loss_weight", "ss_random_crop", "ss_reg_dataset_dirs", "ss_resize_interpolation",
    "ss_resolution", "ss_scale_weight_norms", "ss_sd_model_hash", "ss_sd_model_name",
    "ss_seed", "ss_session_id", "ss_shuffle_caption", "ss_steps", "ss_tag_frequency",
    "ss_text_encoder_lr", "ss_total_batch_size", "ss_training_comment",
    "ss_training_finished_at", "ss_training_started_at", "ss_unet_lr", "ss_v2", "ss_vae_hash",
    "ss_vae_name", "ss_zero_terminal_snr"}
# Written by kohya but not by us, and why: ss_datasets (only with a dataset config file),
# ss_sd_scripts_commit_hash (we are not sd-scripts), the
# ss_validation_* / ss_validate_* / ss_max_validation_steps / ss_num_validation_images keys
# (no validation split here).


@pytest.fixture(scope="module")
def trained(tiny_models, tmp_path_factory):
    root = tmp_path_factory.mktemp("kohya")
    job = tiny_job(tiny_models["sdxl"], root, steps=2, samples={"enabled": False},
                   network={"rank": 4, "alpha": 2, "conv_rank": 2, "conv_alpha": 1})
    return load_lora(Trainer(job, root / "Lora", device="cpu").run().lora)[1]


def test_a_trained_lora_has_kohyas_keys_in_kohyas_formats(trained):
    assert TRAIN | MODELSPEC <= set(trained), sorted(TRAIN | MODELSPEC - set(trained))
    assert trained["ss_network_dim"] == "4" and trained["ss_network_alpha"] == "2.0"
    assert json.loads(trained["ss_network_args"]) == {"conv_dim": "2", "conv_alpha": "1.0"}
    assert trained["ss_base_model_version"].startswith("sdxl_")
    assert trained["modelspec.implementation"] == \
        "https://github.com/Stability-AI/generative-models"
    assert trained["modelspec.resolution"] == "64x64"
    assert trained["modelspec.sai_model_spec"] == "1.0.1"
    # ModelSpecMetadata.trigger_phrase (library/sai_model_spec.py, commit dcce0576): the
    # concepts' trigger words, as kohya writes --metadata_trigger_phrase
    assert trained["modelspec.trigger_phrase"] == "sks"
    assert trained["ss_network_dropout"] == "None" and trained["ss_full_fp16"] == "False"
    assert trained["ss_num_epochs"].isdigit() and trained["ss_epoch"].isdigit()
    # train_util.get_optimizer's name (module + class), --mixed_precision's choice, and
    # --clip_skip's None when it is not given.
    assert trained["ss_optimizer"] == "torch.optim.adamw.AdamW"
    assert trained["ss_mixed_precision"] in ("no", "fp16", "bf16")
    assert trained["ss_clip_skip"] == "None"
    # Buckets on (the default): kohya's BucketManager report, every image counted once per repeat.
    info = json.loads(trained["ss_bucket_info"])
    assert sum(b["count"] for b in info["buckets"].values()) == int(trained["ss_num_train_images"])
    assert all(len(b["resolution"]) == 2 for b in info["buckets"].values())
    assert info["mean_img_ar_error"] >= 0
    assert int(trained["ss_min_bucket_reso"]) <= int(trained["ss_max_bucket_reso"])


def test_bucket_keys_follow_the_bucketing_rule():
    from types import SimpleNamespace

    from lora_for_dummies.dataset.crop import bucket_size
    from lora_for_dummies.train.kohya_keys import bucket_keys

    sizes = [(640, 480), (640, 480), (480, 640), (1024, 1024)]
    items = [SimpleNamespace(bucket=bucket_size(*size, 512), original_size=size)
             for size in sizes]
    keys = bucket_keys(True, 512, items)
    # 384×640 … 640×384
    assert (keys["ss_min_bucket_reso"], keys["ss_max_bucket_reso"]) == (384, 640)
    info = json.loads(keys["ss_bucket_info"])
    counts = {tuple(b["resolution"]): b["count"] for b in info["buckets"].values()}
    assert counts == {bucket_size(640, 480, 512): 2, bucket_size(480, 640, 512): 1, (512, 512): 1}
    expected = sum(abs(bucket_size(*s, 512)[0] / bucket_size(*s, 512)[1] - s[0] / s[1])
                   for s in sizes) / len(sizes)
    assert abs(info["mean_img_ar_error"] - expected) < 1e-12
    assert bucket_keys(False, 512, items) == {"ss_min_bucket_reso": None,
                                              "ss_max_bucket_reso": None, "ss_bucket_info": "null"}


def test_optimizer_names_are_the_real_class_paths():
    import importlib

    from lora_for_dummies.train.config import OPTIMIZERS
    from lora_for_dummies.train.kohya_keys import OPTIMIZER_CLASS_PATHS

    assert set(OPTIMIZER_CLASS_PATHS) == set(OPTIMIZERS)
    checked = 0
    for path in OPTIMIZER_CLASS_PATHS.values():
        module, name = path.split("(")[0].rsplit(".", 1)
        try:
            cls = getattr(importlib.import_module(module), name)
        except ImportError:  # bitsandbytes / prodigyopt are optional on these sets
            continue
        assert f"{cls.__module__}.{cls.__name__}" == path.split("(")[0]
        checked += 1
    assert checked >= 2  # torch's AdamW and transformers' Adafactor are on every set


def test_an_extracted_lora_has_kohyas_keys_in_kohyas_formats(tiny_models, tmp_path):
    tuned = tmp_path / "tuned.safetensors"
    write_tuned(tiny_models["sd1"], tuned)
    extract_lora(tiny_models["sd1"], tuned, tmp_path, "plain",
                 ExtractSettings(rule=RankRule(rank=4)))
    _, metadata = load_lora(tmp_path / "plain.safetensors")
    assert EXTRACT | MODELSPEC <= set(metadata)
    assert metadata["ss_network_args"] == "{}"  # kohya writes "{}" for a plain LoRA
    assert metadata["ss_network_alpha"] == "4.0" and metadata["ss_network_dim"] == "4"
    assert metadata["modelspec.implementation"] == "diffusers"
    assert metadata["modelspec.resolution"] == "512x512"
    assert metadata["ss_base_model_version"] == "sd_v1"


def test_every_sdxl_writer_says_sdxl(tiny_models, tmp_path):
    """A1111 hides an SDXL LoRA from SDXL models unless ss_base_model_version starts with
    "sdxl_": extraction and the LoRA tools (resize, rescale, merge) keep it so."""
    from lora_for_dummies.lora import tools

    tuned = tmp_path / "tuned.safetensors"
    write_tuned(tiny_models["sdxl"], tuned)
    extract_lora(tiny_models["sdxl"], tuned, tmp_path, "xl",
                 ExtractSettings(rule=RankRule(rank=4)))
    modules, metadata = load_lora(tmp_path / "xl.safetensors")
    assert metadata["ss_base_model_version"].startswith("sdxl_")
    resized, _ = tools.resize(modules, RankRule(rank=2))
    outputs = {"resized": resized, "rescaled": tools.rescale(modules, 0.5),
               "merged": tools.merge([modules, modules], [0.5, 0.5])}
    for name, result in outputs.items():
        out = tools.save_like(tmp_path / f"{name}.safetensors", result, metadata, name)
        saved = load_lora(out)[1]
        assert saved["ss_base_model_version"].startswith("sdxl_"), name
        assert float(saved["ss_network_alpha"]) > 0 and "." in saved["ss_network_alpha"]
