"""Torsos by name (the critic_net / actor_net config fields) and the output layer each goes with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn

from rlscale.nets import bronet, simbav2, softmoe
from rlscale.nets.mlp import MLP

BODIES = ("bronet", "mlp", "simbav2", "softmoe")
# A torso's actor log sigma head where it differs from its output layer.
LOG_STD_OUTPUTS: dict[str, Callable[[int], nn.Module]] = {"bronet": bronet.log_std_layer}


def make_body(name: str, width: int, depth: int, **options: Any) -> tuple[nn.Module, Callable]:
    """A torso by name and the factory of the output layer that goes with it.

    Names: "mlp" (options: layer_norm), "bronet" (BRO), "simbav2" (SimbaV2 hyperspherical),
    "softmoe" (options: n_experts, n_tokens, tokenize; SoftMoE replaces the penultimate layer).
    Options are the torso module's own fields, so one it does not have is a TypeError, never
    ignored. CrossQ's BatchRenorm MLP needs a train flag and lives in rlscale.nets.batchrenorm.

    Returns:
        (torso module, output factory n_outputs -> module).
    """
    if name == "mlp":
        return MLP(width, depth, **options), nn.Dense
    if name == "bronet":
        return bronet.BroNet(width, depth, **options), bronet.output_layer
    if name == "simbav2":
        return simbav2.SimbaV2Torso(width, depth, **options), simbav2.SimbaV2Head
    if name == "softmoe":
        return softmoe.SoftMoETorso(width, depth, **options), nn.Dense
    raise ValueError(f"unknown network {name!r}; valid: {sorted(BODIES)}")
