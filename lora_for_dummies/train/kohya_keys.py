"""The rest of the `ss_*` keys kohya's `train_network.py` writes into a trained LoRA (commit
48d368fa), in its formats (`str()` of the value: "True", "None", "0.0"), for the settings this
trainer has — so Civitai, the webuis' metadata views and kohya's own tools read our files as
they read kohya's. Keys for features we do not have carry kohya's value for "off"."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from typing import Any

from lora_for_dummies.train.config import TrainJob

# kohya's values when the feature is not used (its argparse defaults).
OFF: dict[str, Any] = {
    "ss_full_fp16": False, "ss_lowram": False, "ss_fp8_base": False, "ss_fp8_base_unet": False,
    "ss_network_dropout": None, "ss_multires_noise_iterations": None,
    "ss_multires_noise_discount": 0.3, "ss_adaptive_noise_scale": None,
    "ss_scale_weight_norms": None, "ss_ip_noise_gamma": None, "ss_debiased_estimation": False,
    "ss_noise_offset_random_strength": False, "ss_ip_noise_gamma_random_strength": False,
    "ss_loss_type": "l2", "ss_huber_schedule": "snr", "ss_huber_c": 0.1, "ss_huber_scale": 1.0,
    "ss_caption_tag_dropout_rate": 0.0, "ss_caption_dropout_every_n_epochs": 0,
    "ss_color_aug": False, "ss_flip_aug": False, "ss_random_crop": False,
    "ss_face_crop_aug_range": None, "ss_bucket_no_upscale": False, "ss_vae_name": None,
    "ss_vae_hash": None, "ss_new_vae_hash": None, "ss_resize_interpolation": None,
}


# `ss_optimizer` as train_util.get_optimizer names it: the class's module and name, then the
# keyword arguments given beyond lr / weight decay in parentheses (kohya: `--optimizer_args`).
OPTIMIZER_CLASS_PATHS = {
    "adamw": "torch.optim.adamw.AdamW",
    "adamw8bit": "bitsandbytes.optim.adamw.AdamW8bit",
    "adafactor": "transformers.optimization.Adafactor(scale_parameter=False,"
                 "relative_step=False,warmup_init=False)",  # optim.build_optimizer's own args
    "prodigy": "prodigyopt.prodigy.Prodigy",
}
# `--mixed_precision`'s choices: "no" is full fp32.
MIXED_PRECISION = {"fp32": "no", "fp16": "fp16", "bf16": "bf16"}


def bucket_keys(buckets: bool, resolution: int, items: Sequence[Any]) -> dict[str, Any]:
    """`ss_min_bucket_reso` / `ss_max_bucket_reso` (the shortest and longest side our bucketing
    gives at this resolution: `dataset.crop.bucket_size`, aspect 1:2 … 2:1) and `ss_bucket_info`
    as kohya's BucketManager reports it: each bucket's resolution and image count (repeats
    counted), and the mean |bucket aspect − image aspect|. Without buckets: None and "null"."""
    from lora_for_dummies.dataset.crop import bucket_size

    if not buckets:
        return {"ss_min_bucket_reso": None, "ss_max_bucket_reso": None, "ss_bucket_info": "null"}
    tall, wide = bucket_size(1, 2, resolution), bucket_size(2, 1, resolution)
    counts: dict[tuple[int, int], int] = {}
    errors = []
    for item in items:
        counts[item.bucket] = counts.get(item.bucket, 0) + 1
        width, height = item.original_size
        errors.append(abs(item.bucket[0] / item.bucket[1] - width / height))
    info = {"buckets": {str(index): {"resolution": list(bucket), "count": count}
                        for index, (bucket, count) in enumerate(sorted(counts.items()))},
            "mean_img_ar_error": sum(errors) / len(errors) if errors else 0.0}
    return {"ss_min_bucket_reso": min(tall), "ss_max_bucket_reso": max(wide),
            "ss_bucket_info": json.dumps(info)}


def kohya_training_keys(job: TrainJob, step: int, images: int, class_images: int,
                        class_dirs: dict[str, dict[str, int]], items: Sequence[Any] = ()
                        ) -> dict[str, Any]:
    """`images`: training items per epoch (repeats counted), as kohya's num_train_images;
    `items`: those items (`train.data.Item`: bucket and original size), for the bucket keys."""
    t, o = job.training, job.optimizer
    batches = max(1, math.ceil(images / t.batch_size))
    updates_per_epoch = max(1, math.ceil(batches / t.gradient_accumulation))
    warmup = int(o.warmup * t.steps) if o.warmup < 1 else int(o.warmup)
    return {
        **OFF,
        "ss_session_id": random.randint(0, 2**32),  # kohya: one random id per run save
        "ss_num_reg_images": class_images,
        "ss_reg_dataset_dirs": json.dumps(class_dirs, ensure_ascii=False),
        "ss_num_batches_per_epoch": batches,
        "ss_num_epochs": math.ceil(t.steps / updates_per_epoch),
        "ss_epoch": math.ceil(step / updates_per_epoch),
        "ss_total_batch_size": t.batch_size * t.gradient_accumulation,
        "ss_gradient_checkpointing": t.gradient_checkpointing != "off",
        "ss_lr_warmup_steps": warmup,
        "ss_max_token_length": None if t.max_token_chunks == 1 else 75 * t.max_token_chunks,
        "ss_cache_latents": t.cache_latents != "off",
        "ss_enable_bucket": t.buckets,
        "ss_max_grad_norm": o.max_grad_norm,
        "ss_optimizer": OPTIMIZER_CLASS_PATHS.get(o.name, o.name),
        "ss_mixed_precision": MIXED_PRECISION.get(t.precision, t.precision),
        **bucket_keys(t.buckets, t.resolution, items),
    }
