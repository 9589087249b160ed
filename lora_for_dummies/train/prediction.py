"""What the UNet predicts and on which noise schedule: ε or v, and zero terminal SNR.

One answer per run, decided here from the job's overrides and the checkpoint's detection, and
used by everything that adds or removes noise — training, samples, class images, the best-step
grid — so that babysitting shows what the webui will later render.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lora_for_dummies import messages as msg
from lora_for_dummies.train.config import ModelConfig


@dataclass(frozen=True)
class Prediction:
    v: bool = False  # v-prediction (else ε)
    zero_terminal_snr: bool = False  # betas rescaled so that the last step is pure noise

    def scheduler_options(self) -> dict[str, Any]:
        """diffusers scheduler config keys for this prediction (Lin et al. 2023 for zero
        terminal SNR: rescaled betas, and "trailing" timesteps so that sampling starts at the
        last, pure-noise step)."""
        options: dict[str, Any] = {"prediction_type": "v_prediction" if self.v else "epsilon"}
        if self.zero_terminal_snr:
            options.update(rescale_betas_zero_snr=True, timestep_spacing="trailing")
        return options

    def describe(self) -> str:
        return ("v-prediction" if self.v else "ε-prediction") + \
            (" with zero terminal SNR" if self.zero_terminal_snr else "")


def resolve_prediction(model: ModelConfig, info: Any) -> Prediction:
    """The job's settings where given (None: as the checkpoint inspection `info` detected)."""
    if model.v_prediction is None and info.prediction == "unknown":
        raise msg.PREDICTION_UNKNOWN.error(file=info.file_name)
    v = info.prediction == "v" if model.v_prediction is None else model.v_prediction
    ztsnr = info.zero_terminal_snr if model.zero_terminal_snr is None \
        else model.zero_terminal_snr
    if ztsnr and not v:
        raise msg.ZTSNR_NEEDS_V.error(file=info.file_name)
    return Prediction(v, ztsnr)
