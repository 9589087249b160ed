"""`ss_network_module` / `ss_network_args` of a LyCORIS kind as kohya's train_network.py
writes them with `--network_module lycoris.kohya --network_args algo=… conv_dim=…` (each value
the string given on the command line)."""

from __future__ import annotations

from typing import Any


def lycoris_network(network: Any, algo: str, **extra: str) -> tuple[str, dict[str, str]]:
    args = {"algo": algo, **extra}
    if network.conv_rank:
        args.update(conv_dim=str(network.conv_rank), conv_alpha=str(float(network.conv_alpha)))
    return "lycoris.kohya", args
