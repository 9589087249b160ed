"""Low-rank factorisation of a weight difference: fixed or dynamic rank, fast or exact.

The default is a randomised SVD (Halko et al.: oversampling + power iterations, through
`torch.svd_lowrank`), which on the decaying spectra of fine-tuning differences is within a
fraction of a percent of the exact truncated SVD at a fraction of the cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lora_for_dummies.errors import UserError

RANK_MODES = ("fixed", "energy", "frobenius", "ratio")


@dataclass(frozen=True)
class RankRule:
    mode: str = "fixed"  # fixed | energy (Σσ) | frobenius (√Σσ²) | ratio (σᵢ/σ₀)
    rank: int = 32  # the rank (fixed) or the cap (dynamic)
    threshold: float = 0.9  # fraction kept (energy/frobenius) or smallest σᵢ/σ₀ (ratio)
    exact: bool = False  # full SVD instead of the randomised one
    oversample: int = 8
    power_iterations: int = 2

    def validate(self) -> None:
        if self.mode not in RANK_MODES:
            raise UserError(f"rank mode must be one of {', '.join(RANK_MODES)}")
        from lora_for_dummies.ranges import check_fields

        check_fields(self, "rank", "")


@dataclass
class Factors:
    up: Any  # (out, r)
    down: Any  # (r, in)
    singular_values: Any  # the ones computed (at least r)
    relative_error: float  # ‖Δ − up·down‖ / ‖Δ‖


def _choose_rank(values: Any, total_sq: float, rule: RankRule, cap: int) -> int:
    import torch

    if rule.mode == "fixed" or values.numel() == 0:
        return cap
    if rule.mode == "ratio":
        keep = int((values >= values[0] * rule.threshold).sum())
    elif rule.mode == "frobenius":
        cumulative = torch.sqrt(torch.cumsum(values.double() ** 2, 0) / max(total_sq, 1e-30))
        keep = int((cumulative < rule.threshold).sum()) + 1
    else:  # energy: share of the sum of singular values (needs the full spectrum)
        cumulative = torch.cumsum(values.double(), 0) / values.double().sum()
        keep = int((cumulative < rule.threshold).sum()) + 1
    return max(1, min(keep, cap))


def factorize(delta: Any, rule: RankRule, norm: float | None = None) -> Factors:
    """Factor a 2-D difference as up @ down with the rank `rule` chooses (≤ min(out, in)).

    `norm`: ‖Δ‖ if the caller has it already (one pass over the tensor less)."""
    import torch

    delta = delta.float()
    out_features, in_features = delta.shape
    cap = min(rule.rank, out_features, in_features)
    # torch's float32 norm sums pairwise: accurate to ~1e-7, plenty for an error estimate.
    total_sq = (float(delta.norm()) if norm is None else norm) ** 2
    if total_sq == 0:
        zeros = torch.zeros
        return Factors(zeros(out_features, cap), zeros(cap, in_features), zeros(cap), 0.0)
    full = rule.exact or rule.mode == "energy" or cap + rule.oversample >= min(delta.shape)
    if full:
        u, s, vh = torch.linalg.svd(delta, full_matrices=False)
    else:
        u, s, v = torch.svd_lowrank(delta, q=cap + rule.oversample, niter=rule.power_iterations)
        vh = v.T
    rank = _choose_rank(s, total_sq, rule, cap)
    root = s[:rank].sqrt()
    up = u[:, :rank] * root
    down = root[:, None] * vh[:rank]
    # ‖Δ − UΣVᵀ‖² is the sum of the discarded σᵢ² (exact spectrum), or ‖Δ‖² − Σ kept σᵢ²
    # (randomised): no second matmul needed.
    if full:
        tail_sq = float((s[rank:].double() ** 2).sum())
    else:
        tail_sq = max(total_sq - float((s[:rank].double() ** 2).sum()), 0.0)
    error = tail_sq ** 0.5 / total_sq ** 0.5
    return Factors(up.contiguous(), down.contiguous(), s, error)


def clamp_quantile(factors: Factors, delta: Any, quantile: float) -> tuple[Factors, float]:
    """Clamp both factors at the `quantile` of their absolute values (what kohya's extractor
    does by default). Returns the clamped factors and the relative error it causes."""
    import torch

    values = torch.cat([factors.up.flatten(), factors.down.flatten()]).abs()
    if values.numel() > 2**24:  # torch.quantile's size limit
        values = values[torch.randperm(values.numel())[: 2**24]]
    limit = float(torch.quantile(values, quantile))
    up, down = factors.up.clamp(-limit, limit), factors.down.clamp(-limit, limit)
    error = float((delta.float() - up @ down).norm() / delta.float().norm().clamp_min(1e-30))
    return Factors(up, down, factors.singular_values, error), error
