"""SimbaV2 (Lee et al. 2025, "Hyperspherical Normalization for Scalable Deep RL"): SAC with
hyperspherical actor and critic (rlscale.nets.simbav2), a C51 critic on a fixed [-5, 5] support,
observation RSNorm and running-return reward scaling (rlscale.agents.streams), weight projection
after every step and a linear learning-rate decay over the run.

Defaults: `dojeon-ai/SimbaV2` `configs/agent/simbaV2.yaml` (science/agents.md section 4.8). The
update is SAC's (`make_sac`) with `actor_first=True`.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from rlscale.agents.base import Agent
from rlscale.agents.domains import (
    DecayUpdates,
    Discount,
    FiniteFloat,
    NonNegativeFloat,
    PolyakRate,
    PositiveFloat,
)
from rlscale.agents.sac import SACConfig, make_sac


@dataclasses.dataclass(frozen=True)
class SimbaV2Config(SACConfig):
    """SACConfig with SimbaV2's defaults."""

    critic_width: int = 512  # critic hidden width d_h (block MLP inner width 4 d_h)
    critic_depth: int = 2  # critic LERP blocks
    actor_width: int = 128
    actor_depth: int = 1  # actor LERP blocks
    critic_net: str = "simbav2"
    actor_net: str = "simbav2"
    value_loss: str = "c51"
    v_min: float = -5.0  # = -normalized_g_max
    v_max: float = 5.0
    n_bins: int = 101
    target_rule: str = "min"  # CDQ (SimbaV2 turns it on for episodic MuJoCo/HBench, off for DMC)
    actor_log_std: str = "tanh"
    reward_scaling: bool = True  # r / max(std(G), max|G| / g_max), G the running return
    reward_g_max: float = 5.0  # normalized_g_max
    obs_norm: bool = True  # RSNorm: (o - mean) / sqrt(var + 1e-8) with running moments
    actor_first: bool = True
    temperature_on_log_alpha: bool = False  # alpha * (H - H_bar)


class SimbaV2HParams(NamedTuple):
    """SACHParams fields with SimbaV2's defaults (same names, so the SAC update reads them)."""

    learning_rate: PositiveFloat = 1e-4  # initial lr, Adam (actor, critic, temperature)
    gamma: Discount = 0.99  # DMC heuristic value (MuJoCo 0.995)
    tau: PolyakRate = 0.005
    target_entropy_scale: FiniteFloat = 0.5  # H_bar = -0.5 dim(A)
    init_temperature: PositiveFloat = 0.01
    final_learning_rate: NonNegativeFloat = 5e-5  # linear decay end
    lr_decay_updates: DecayUpdates = -1.0  # the run's total updates (official: exactly that)


def make_simbav2(config: SimbaV2Config, hparams: SimbaV2HParams = SimbaV2HParams()) -> Agent:
    """SimbaV2 = SAC's update with the SimbaV2 networks, loss, order and stream statistics named
    in `config`."""
    return make_sac(config, hparams)
