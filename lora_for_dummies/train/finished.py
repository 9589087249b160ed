"""What a finished run says once, at its end: the file to use, how to call it in a prompt,
and where to compare its saved steps. The Train tab shows it under its buttons; the webui's
prompt syntax is `<lora:NAME:weight>`, NAME being the file's stem (the run's LoRA name)."""

from __future__ import annotations

from pathlib import Path

from lora_for_dummies.train.config import TrainJob
from lora_for_dummies.train.run_files import RunFiles

# A first weight to try: full strength (1) often overpowers the base model's look early on.
START_WEIGHT = 0.8


def lora_prompt(name: str, weight: float = START_WEIGHT) -> str:
    """The webui's prompt syntax for the LoRA `name` (A1111, Forge, Forge Neo)."""
    return f"<lora:{name}:{weight:g}>"


def finished_block(job: TrainJob, lora_dir: Path) -> str:
    """Markdown: the final file, how to use it, the best-step grid; "" without a final file."""
    name = job.save.name
    final = Path(lora_dir) / f"{name}.safetensors"
    if not final.is_file():
        return ""
    token = next((c.token for c in job.concepts if c.token), "")
    prompt = lora_prompt(name) + (f" {token}, …" if token else " …")
    lines = [f"**Your LoRA is ready: `{final.name}`** (in `{final.parent}`)",
             f"- **Use it**: put `{prompt}` in a prompt — the webui's `<lora:NAME:weight>`; "
             f"{START_WEIGHT:g} is a good start, 0.5–1 the usual range"
             + (f", and the trigger word `{token}` calls what it learned" if token else "")]
    steps = RunFiles(job.run_dir, lora_dir, name).steps()
    if steps:
        # The section's name in plain text: a bold or italic copy would be a second element
        # titled like the accordion itself.
        lines.append(f"- **Pick the best step**: {len(steps)} step files were saved "
                     f"(`{steps[0][1].name}` … `{steps[-1][1].name}`); open the section "
                     "“Which step is best?” below to compare them side by side and make the "
                     "best one the LoRA")
    return "\n".join(lines)
