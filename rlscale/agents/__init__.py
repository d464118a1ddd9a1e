"""Agents as pure functions: `rlscale.agents.make(name, **config) -> Agent(init, act, update)`."""

from rlscale.agents.base import Agent, stack_hparams
from rlscale.agents.registry import AGENTS, make

__all__ = ["AGENTS", "Agent", "make", "stack_hparams"]
