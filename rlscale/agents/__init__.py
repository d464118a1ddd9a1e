"""Agents as pure functions: `rlscale.agents.make(name, **config) -> Agent(init, act, update)`."""

from rlscale.agents.base import Agent
from rlscale.agents.registry import AGENTS, make

__all__ = ["AGENTS", "Agent", "make"]
