"""DeepMind Control suite (`dmc:<domain>-<task>`, e.g. `dmc:cheetah-run`) on the host, C MuJoCo.

Observations are dm_control's `flat_observation` (its own key order), as float32. dm_control's
time limit is switched off: the episode length is counted by `rlscale.envs.host.Episode`, in
agent steps (1000 simulator control steps / action repeat by default, as every suite task but the
LQR ones uses 1000). A `last()` step with discount 0 is a termination; with discount > 0 the env
ended the episode itself, which is a truncation.
"""

from __future__ import annotations

import functools

import numpy as np

from rlscale.envs.host import HostEnv

DEFAULT_ACTION_REPEAT = 2  # SimbaV2's DMC setting
CONTROL_STEPS = 1000  # dm_control suite episode length in control steps


def dmc_names() -> list[str]:
    from dm_control import suite

    return sorted(f"{domain}-{task}" for domain, task in suite.ALL_TASKS)


class DMCEnv:
    """One dm_control task as a `RawEnv`: flat float32 observations, actions in [-1, 1]."""

    def __init__(self, name: str, seed: int):
        from dm_control import suite

        domain, task = name.split("-", 1)
        self.env = suite.load(
            domain,
            task,
            task_kwargs={"random": seed, "time_limit": float("inf")},
            environment_kwargs={"flat_observation": True},
        )
        spec = self.env.action_spec()
        self.low, self.high = spec.minimum, spec.maximum

    def reset(self) -> np.ndarray:
        return self.env.reset().observation["observations"].astype(np.float32)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool]:
        action = np.clip(action, -1.0, 1.0)
        timestep = self.env.step(self.low + (action + 1.0) * 0.5 * (self.high - self.low))
        last = timestep.last()
        terminated = last and timestep.discount == 0.0
        obs = timestep.observation["observations"].astype(np.float32)
        return obs, float(timestep.reward or 0.0), bool(terminated), bool(last and not terminated)


def make_dmc(name: str, max_episode_steps: int | None = None, action_repeat: int = 0) -> HostEnv:
    """A HostEnv description for `dmc:<name>`; copies are built by `host.make_vector`."""
    action_repeat = action_repeat or DEFAULT_ACTION_REPEAT
    probe = DMCEnv(name, 0)
    obs_size = int(probe.env.observation_spec()["observations"].shape[0])
    action_size = int(probe.env.action_spec().shape[0])
    steps = max_episode_steps or CONTROL_STEPS // action_repeat
    return HostEnv(
        f"dmc:{name}", obs_size, action_size, steps, action_repeat, functools.partial(DMCEnv, name)
    )
