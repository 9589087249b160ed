"""Run under `accelerate launch` by test_train_launch: trains the job given on the command line
in every process, then writes what this process ended with — its LoRA weights and its losses —
to `<out>/rank<N>.safetensors` / `.json`, so the test can compare the ranks with each other."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from safetensors.torch import save_file

from lora_for_dummies.config import load_toml
from lora_for_dummies.train import network as net
from lora_for_dummies.train.config import TrainJob
from lora_for_dummies.train.loop import Trainer


def main(job_file: str, out: str) -> None:
    job = load_toml(TrainJob, Path(job_file))
    trainer = Trainer(job, Path(job.save.lora_dir))
    result = trainer.run()
    rank = trainer.accelerator.process_index
    weights = {}
    for component, model in trainer.trained.items():
        state = net.lora_state(trainer.accelerator.unwrap_model(model))
        weights.update({f"{component}.{key}": value.detach().contiguous()
                        for key, value in state.items()})
    save_file(weights, str(Path(out) / f"rank{rank}.safetensors"))
    (Path(out) / f"rank{rank}.json").write_text(json.dumps(result.losses))


if __name__ == "__main__":
    main(*sys.argv[1:3])
