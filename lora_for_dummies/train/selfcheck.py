"""Self-check after the final save: does the file on disk really work?

Reload it; every key must name a module of the base model; every module must be one that
A1111's, Forge Neo's and ComfyUI's LoRA loaders place on the base file (`lora/consumers.py`); no
NaN/inf; and a fixed-seed sample with the LoRA must differ from one without it. This catches "my
LoRA has no effect", the most common complaint about other trainers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lora_for_dummies.families import get_family
from lora_for_dummies.lora.format import is_finite, load_modules


@dataclass
class SelfCheck:
    modules: int
    unmatched: list[str]
    not_finite: list[str]
    # mean |with − without| over pixels, 0..255; None: samples are off, no image compared
    image_difference: float | None
    hosts: dict[str, int] = field(default_factory=dict)  # loader → modules it cannot place

    @property
    def passed(self) -> bool:
        return not self.unmatched and not self.not_finite and not any(self.hosts.values()) \
            and (self.image_difference is None or self.image_difference > 0)

    def loads_in(self) -> str:
        return "loads in: " + " ".join(f"{host} {'✓' if not count else f'✗ ({count} keys)'}"
                                       for host, count in self.hosts.items())

    def summary(self) -> str:
        if self.passed:
            images = "no image compared (samples are off)" if self.image_difference is None \
                else f"the LoRA changes the image (mean difference " \
                     f"{self.image_difference:.2f}/255)"
            return (f"self-check passed: {self.modules} modules, all match the base model, no "
                    f"NaN; {images}; {self.loads_in()}")
        problems = []
        if self.unmatched:
            problems.append(f"{len(self.unmatched)} keys match no module (e.g. "
                            f"{self.unmatched[0]})")
        if self.not_finite:
            problems.append(f"{len(self.not_finite)} modules hold NaN/inf")
        if self.image_difference == 0:
            problems.append("a sample with the LoRA is identical to one without it")
        if any(self.hosts.values()):
            problems.append(self.loads_in())
        return "self-check FAILED: " + "; ".join(problems)

    def as_dict(self) -> dict[str, Any]:
        return dict(asdict(self), passed=self.passed)


def self_check(path: Path, family: str, configs: dict[str, dict[str, Any]],
               render_pair: Any, base: Path | None = None) -> SelfCheck:
    """`render_pair()` returns (image with the LoRA, image without) as PIL images; None
    compares no images (keys and finiteness are checked on every save). With the `base` file,
    each host's loader is asked too."""
    import numpy as np

    modules, _ = load_modules(path)
    spec = get_family(family)
    names = spec.lora_names(configs)
    unmatched = sorted(n for n in modules if n not in names)
    not_finite = sorted(n for n, m in modules.items() if not is_finite(m))
    difference = None
    if render_pair is not None:
        with_lora, without = render_pair()
        difference = float(np.abs(np.asarray(with_lora, dtype=np.float32) -
                                  np.asarray(without, dtype=np.float32)).mean())
    hosts = {} if base is None else {
        host: len(names) for host, names in
        spec.unmatched_per_host(list(modules), Path(base), configs).items()}
    return SelfCheck(len(modules), unmatched, not_finite, difference, hosts)


def check_trained_lora(path: Path, job: Any, family: str, configs: dict[str, dict[str, Any]],
                       models: list[Any], context: Any) -> SelfCheck:
    """Self-check a run's final file with its in-memory models (LoRA on, then off); the result
    goes to `<name>.selfcheck.json` beside the file."""
    import json

    from lora_for_dummies.atomic import write_text_atomic
    from lora_for_dummies.train.network import set_adapters
    from lora_for_dummies.train.sampling import render

    prompt = (job.samples.prompts or [job.concepts[0].token or "a photo"])[0]

    def render_pair() -> tuple[Any, Any]:
        for model in models:
            model.eval()
        with_lora = render(context, prompt, job.samples, job.samples.seed)
        set_adapters(models, False)
        try:
            without = render(context, prompt, job.samples, job.samples.seed)
        finally:
            set_adapters(models, True)
        return with_lora, without

    check = self_check(path, family, configs, render_pair if job.samples.enabled else None,
                       Path(job.model.base))
    write_text_atomic(path.with_suffix(".selfcheck.json"), json.dumps(check.as_dict(), indent=1))
    return check
