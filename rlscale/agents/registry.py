"""Agents by name: `make("sac", obs_size=3, action_size=1, critic_width=256, learning_rate=1e-3)`.

Keyword arguments are split between the agent's static config dataclass and its hyperparameter
NamedTuple by field name; an unknown name is an error listing the valid ones.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from typing import Any, NamedTuple

from rlscale.agents.base import Agent
from rlscale.agents.bro import BROConfig, BROHParams, make_bro
from rlscale.agents.crossq import CrossQConfig, CrossQHParams, make_crossq
from rlscale.agents.sac import SACConfig, SACHParams, make_sac
from rlscale.agents.simbav2 import SimbaV2Config, SimbaV2HParams, make_simbav2
from rlscale.agents.variants import (
    OPTIMISM,
    SAC,
    SAC_STEPS,
    VALUE_LOSS,
    Optimism,
    Reads,
    added_fields,
    every_field,
    fields,
)


class AgentSpec(NamedTuple):
    config: type  # frozen dataclass of static fields (must include obs_size and action_size)
    hparams: type  # NamedTuple of scalar hyperparameters with defaults
    make: Callable[..., Agent]
    # the config keys `make`'s agent reads (rlscale.agents.variants); None: every field
    reads: Reads | None = None


# BRO is SAC's steps (make_sac_steps, not make_sac: no stream statistics, its own update order)
# plus the optimism and reset settings it declares beyond SAC's.
BRO_READS = SAC_STEPS | Reads(
    (added_fields(BROConfig, SACConfig) | added_fields(BROHParams, SACHParams))
    - fields(Optimism)
    - {OPTIMISM.key},
    (OPTIMISM,),
)
AGENTS: dict[str, AgentSpec] = {
    # critic_net=softmoe: SAC + SoftMoE critic
    "sac": AgentSpec(SACConfig, SACHParams, make_sac, SAC),
    "crossq": AgentSpec(
        CrossQConfig,
        CrossQHParams,
        make_crossq,
        every_field(CrossQConfig, CrossQHParams, choices=(VALUE_LOSS,)),
    ),
    "simbav2": AgentSpec(SimbaV2Config, SimbaV2HParams, make_simbav2, SAC),
    "bro": AgentSpec(BROConfig, BROHParams, make_bro, BRO_READS),
}
ENV_FIELDS = ("obs_size", "action_size")  # set from the environment, never by a user


def spec(name: str) -> AgentSpec:
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; valid: {sorted(AGENTS)}")
    return AGENTS[name]


def static_fields(name: str) -> tuple[str, ...]:
    fields = dataclasses.fields(spec(name).config)
    return tuple(f.name for f in fields if f.name not in ENV_FIELDS)


def hparam_fields(name: str) -> tuple[str, ...]:
    return tuple(spec(name).hparams._fields)


def reads(name: str) -> Reads:
    """What agent `name` reads of its flat config (every field where its spec declares nothing;
    tests/test_config_variants.py checks each registered agent against what its code reads)."""
    agent = spec(name)
    return agent.reads or every_field(agent.config, agent.hparams)


def readers(key: str) -> list[str]:
    """The agents that may read `key` (with some values of their choices)."""
    return [name for name in AGENTS if key in reads(name).possible()]


def check_keys(name: str, keys: Any, where: str = "agent") -> None:
    """Raise a ValueError naming every key the agent does not have, with close matches."""
    valid = (*static_fields(name), *hparam_fields(name))
    for key in keys:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ValueError(
                f"{where}: unknown key {key!r} for agent {name!r}{hint}; valid: {sorted(valid)}"
            )


def split_kwargs(name: str, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split flat keyword arguments into (static config fields, hyperparameter fields)."""
    check_keys(name, [k for k in kwargs if k not in ENV_FIELDS])
    hparams = {k: v for k, v in kwargs.items() if k in hparam_fields(name)}
    static = {k: v for k, v in kwargs.items() if k not in hparams}
    return static, hparams


def make(name: str, **kwargs: Any) -> Agent:
    """Make agent `name`; `obs_size`, `action_size` are required, other keys override defaults."""
    agent_spec = spec(name)
    static, hparams = split_kwargs(name, kwargs)
    return agent_spec.make(agent_spec.config(**static), agent_spec.hparams(**hparams))
