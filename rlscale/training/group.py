"""What one compiled program trains: a run is a resolved flat config plus a seed; a group is the
runs that share one compiled program (same static signature) and differ only in seed and scalar
hyperparameters. The orchestrator (`rlscale.sweeps`) builds groups; the drivers consume them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from rlscale import agents, envs
from rlscale.agents import registry
from rlscale.training.loop import LoopConfig

NOT_IN_RUN_ID = ("checkpoint_every",)


@dataclasses.dataclass(frozen=True)
class RunSpec:
    config: dict[str, Any]  # fully resolved flat config, `seed` included

    @property
    def run_id(self) -> str:
        """Stable across resumes and machines: a hash of the resolved config. Keys that do not
        change a run's results (where it checkpoints) are left out."""
        kept = {k: v for k, v in self.config.items() if k not in NOT_IN_RUN_ID}
        blob = json.dumps(kept, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    @property
    def hparams(self) -> dict[str, Any]:
        return {k: self.config[k] for k in registry.hparam_fields(self.config["agent"])}

    @property
    def static_key(self) -> tuple[tuple[str, Any], ...]:
        """Everything that changes array shapes or the compiled program."""
        dynamic = {"seed", *registry.hparam_fields(self.config["agent"])}
        return tuple(sorted((k, v) for k, v in self.config.items() if k not in dynamic))


@dataclasses.dataclass(frozen=True)
class Group:
    runs: tuple[RunSpec, ...]

    @property
    def static(self) -> dict[str, Any]:
        return dict(self.runs[0].static_key)

    @property
    def agent_static(self) -> dict[str, Any]:
        fields = registry.static_fields(self.static["agent"])
        return {k: self.static[k] for k in fields}

    def env_and_agent(self):
        """The group's env and agent, made from its static config (one place for every user)."""
        static = self.static
        env = envs.make(
            static["env"], static["max_episode_steps"] or None, static.get("action_repeat", 0)
        )
        agent = agents.make(
            static["agent"], obs_size=env.obs_size, action_size=env.action_size, **self.agent_static
        )
        return env, agent

    @property
    def loop(self) -> LoopConfig:
        names = [f.name for f in dataclasses.fields(LoopConfig)]
        static = {**self.static, "total_steps": self.static["steps"]}
        return LoopConfig(**{k: static[k] for k in names})


def seed_runs(config: dict[str, Any], seeds: int) -> list[RunSpec]:
    """`seeds` runs of one config, seeds config['seed'] ... config['seed'] + seeds - 1."""
    return [RunSpec({**config, "seed": config["seed"] + i}) for i in range(seeds)]


def group_runs(runs: list[RunSpec]) -> list[Group]:
    """Runs grouped by static signature, in first-seen order."""
    groups: dict[tuple, list[RunSpec]] = {}
    for run in runs:
        groups.setdefault(run.static_key, []).append(run)
    return [Group(tuple(members)) for members in groups.values()]
