"""A training job, as one TOML file (`runs/<name>/config.toml` holds the whole job)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lora_for_dummies.config import from_dict, to_dict
from lora_for_dummies.errors import UserError
from lora_for_dummies.lora.kinds import TRAINABLE

SCHEDULERS = ("constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts",
              "polynomial")
OPTIMIZERS = ("adamw", "adamw8bit", "adafactor", "prodigy")
SAMPLERS = ("euler_a", "euler", "dpmpp_2m_karras")
PRECISIONS = ("fp32", "fp16", "bf16")
# Recompute activations in the backward pass instead of keeping them: partial = only the
# highest-resolution blocks, which hold about half of the activations (SD1.5, 512 px) for a
# small share of the compute.
CHECKPOINTING = ("off", "partial", "full")
# transformer: attention + proj_in/out + feed-forward (kohya's LoRA); attention: q/k/v/out only
# (diffusers' training examples)
UNET_LAYERS = ("transformer", "attention")


@dataclass
class ModelConfig:
    base: str = ""  # single-file checkpoint
    v_prediction: bool | None = None  # None: as detected
    zero_terminal_snr: bool | None = None  # None: as detected (NoobAI-XL V-Pred: true)
    clip_skip: int = 0  # 0: as suggested by the model inspection
    # Families whose parts are separate files (Flux: the base is the transformer): each part's
    # file, "" = found beside the base or in the host's text-encoder / VAE folders.
    text_encoder: str = ""  # Flux: CLIP-L (clip_l.safetensors); Z-Image: Qwen3-4B
    text_encoder_2: str = ""  # Flux: T5-XXL (t5xxl_fp16 / t5xxl_fp8_e4m3fn.safetensors)
    vae: str = ""  # Flux: ae.safetensors
    tokenizer_2: str = ""  # Flux: a folder with T5's tokenizer.json or spiece.model
    tokenizer: str = ""  # Z-Image: a folder with Qwen3's tokenizer.json
    fp8_base: bool = False  # Flux: the frozen transformer's Linear weights kept in fp8


# The settings last started from the Train tab, in the runs folder: what the form shows at the
# next page load (ui/train_form.py), and what the demo workspace starts with.
LAST_SETTINGS = "last-settings.toml"
DEFAULT_REPEATS = 10  # a concept folder outside any dataset (kohya's usual)


@dataclass
class ConceptConfig:
    folder: str = ""  # e.g. datasets/my dog/HIGHRES_CONCEPT
    token: str = ""  # trigger word
    prompt: str = ""  # instance prompt for images without a caption (default: the token)
    repeats: int = 0  # 0: the dataset's (its Dataset tab setting), 10 for a folder outside one
    class_folder: str = ""  # prior preservation: regularisation images
    class_prompt: str = ""
    class_images: int = 0  # generate missing class images up to this count


@dataclass
class NetworkConfig:
    kind: str = "lora"  # lora | dora | loha | lokr | full (`lora.kinds.TRAINABLE`)
    rank: int = 16
    alpha: float = 8.0
    conv_rank: int = 0  # LoCon on ResNet convolutions (0: off)
    conv_alpha: float = 1.0
    train_text_encoder: bool = True
    unet_layers: str = "transformer"  # see UNET_LAYERS


@dataclass
class OptimizerConfig:
    name: str = "adamw"
    unet_lr: float = 1e-4
    text_encoder_lr: float = 5e-5
    weight_decay: float = 1e-2
    scheduler: str = "cosine"
    warmup: float = 0.05  # < 1: fraction of the steps; ≥ 1: steps
    cycles: int = 1  # cosine_with_restarts
    power: float = 1.0  # polynomial
    max_grad_norm: float = 1.0


@dataclass
class TrainingConfig:
    steps: int = 1000
    batch_size: int = 1
    gradient_accumulation: int = 1
    resolution: int = 512
    buckets: bool = True
    precision: str = "fp16"
    gradient_checkpointing: str = "off"  # off | partial | full (CHECKPOINTING)
    cache_latents: str = "memory"  # off | memory | disk
    cache_text_encoder: bool = True  # only when the text encoder is not trained
    noise_offset: float = 0.0
    min_snr_gamma: float = 0.0  # 0: off (5 is the usual value)
    prior_loss_weight: float = 1.0
    shuffle_tags: bool = False
    keep_tags: int = 1  # tags kept in place at the front when shuffling
    caption_dropout: float = 0.0
    max_token_chunks: int = 1  # 75 tokens per chunk
    seed: int = 1234

    @staticmethod
    def upgrade(data: dict) -> dict:
        """Jobs and presets saved before checkpointing had levels said true or false."""
        if isinstance(data.get("gradient_checkpointing"), bool):
            data["gradient_checkpointing"] = "full" if data["gradient_checkpointing"] else "off"
        return data


@dataclass
class SampleConfig:
    enabled: bool = True  # off: no samples at all (benchmarks, headless runs)
    every: int = 100  # steps; 0: only before training and at the end
    prompts: list[str] = field(default_factory=list)  # default: from the concepts' tokens
    negative: str = "lowres, bad anatomy, worst quality"
    seed: int = 42
    cfg: float = 7.0
    steps: int = 20
    width: int = 512
    height: int = 512
    sampler: str = "euler_a"
    # CFG rescale (Lin et al. 2023) against over-exposure; applied on zero-terminal-SNR models,
    # whose cards advise 0.7; 0: off
    guidance_rescale: float = 0.7


@dataclass
class SaveConfig:
    name: str = "my_lora"
    every: int = 250  # steps; 0: only at the end
    keep_last: int = 3  # step files kept (0: all)
    dtype: str = "fp16"
    lora_dir: str = ""  # default: the host's Lora folder
    preferred_weight: float = 1.0


@dataclass
class TrainJob:
    model: ModelConfig = field(default_factory=ModelConfig)
    concepts: list[ConceptConfig] = field(default_factory=list)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    samples: SampleConfig = field(default_factory=SampleConfig)
    save: SaveConfig = field(default_factory=SaveConfig)
    runs_dir: str = "runs"

    def validate(self) -> None:
        """Check the whole job; afterwards `save.name` holds the validated (stripped) name."""
        from lora_for_dummies.names import check_name
        from lora_for_dummies.ranges import BUCKET_SIDE, check_fields

        self.save.name = check_name(self.save.name, "run name")
        for section in ("model", "network", "optimizer", "training", "samples", "save"):
            check_fields(getattr(self, section), section)
        for index, concept in enumerate(self.concepts):
            check_fields(concept, "concepts", f"concepts[{index}]")
        if self.training.buckets:
            BUCKET_SIDE.check("training.resolution (with buckets)", self.training.resolution)
        if not self.model.base:
            raise UserError("choose a base model")
        if not self.concepts:
            raise UserError("add at least one concept (an instance folder)")
        t, n, o, s = self.training, self.network, self.optimizer, self.samples
        for value, allowed, what in ((o.scheduler, SCHEDULERS, "scheduler"),
                                     (o.name, OPTIMIZERS, "optimizer"),
                                     (s.sampler, SAMPLERS, "sampler"),
                                     (t.precision, PRECISIONS, "precision"),
                                     (n.unet_layers, UNET_LAYERS, "UNet layers"),
                                     (n.kind, TRAINABLE, "network.kind (kind of LoRA)"),
                                     (t.cache_latents, ("off", "memory", "disk"), "latent cache"),
                                     (t.gradient_checkpointing, CHECKPOINTING,
                                      "gradient checkpointing")):
            if value not in allowed:
                raise UserError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")
        if self.save.dtype not in PRECISIONS:
            raise UserError(f"save.dtype must be one of {', '.join(PRECISIONS)}, "
                            f"not {self.save.dtype!r}")

    def resolve_repeats(self) -> None:
        """Give every concept left at repeats 0 its dataset's value: the one number the Dataset
        tab shows is what the UI, the CLI and the API train with (and what the metadata says).
        Called once the concept folders are final paths."""
        from lora_for_dummies.dataset.layout import concept_of_folder

        for concept in self.concepts:
            if not concept.repeats:
                found = concept_of_folder(concept.folder)
                concept.repeats = found[1].repeats if found else DEFAULT_REPEATS

    @property
    def run_dir(self) -> Path:
        """`<runs_dir>/<name>`: the run's folder (config.toml, state, log, samples)."""
        return Path(self.runs_dir) / self.save.name

    def make_paths_absolute(self) -> None:
        """Every path of the job made absolute against the current folder, for a process
        that runs elsewhere (`accelerate launch` runs in the run folder)."""
        def absolute(value: str) -> str:
            return str(Path(value).absolute()) if value else value

        self.model.base = absolute(self.model.base)
        for concept in self.concepts:
            concept.folder, concept.class_folder = absolute(concept.folder), \
                absolute(concept.class_folder)
        self.save.lora_dir, self.runs_dir = absolute(self.save.lora_dir), absolute(self.runs_dir)

    def lora_folder(self, default: str | Path) -> Path:
        """Where this job's LoRAs go: `save.lora_dir`, else the host's Lora folder."""
        return Path(self.save.lora_dir or default)

    @classmethod
    def from_dict(cls, data: dict) -> TrainJob:
        return from_dict(cls, data)

    def to_dict(self) -> dict:
        return to_dict(self)
