"""Gymnasium environments (`gym:<id>`, e.g. `gym:HalfCheetah-v5`) on the host.

Box observations are flattened to float32; Box actions are rescaled from [-1, 1] to the env's
bounds. Gymnasium's own `TimeLimit` stays on (its `truncated` flag is reported as truncation); the
rlscale episode length, in agent steps, defaults to the registered limit / action repeat. Envs are
reset by hand, never by a vector auto-reset, so the true final observation is always kept.
"""

from __future__ import annotations

import functools

import numpy as np

from rlscale.envs.host import HostEnv

DEFAULT_ACTION_REPEAT = 1  # the Gym MuJoCo benchmarks of the scaling papers use none


def gym_names() -> list[str]:
    import gymnasium

    return sorted(gymnasium.registry)


class GymEnv:
    """One Gymnasium env as a `RawEnv`: continuous (Box) actions only."""

    def __init__(self, name: str, seed: int):
        import gymnasium

        self.env = gymnasium.make(name, disable_env_checker=True)
        space = self.env.action_space
        if not isinstance(space, gymnasium.spaces.Box):
            raise ValueError(
                f"gym:{name} has {type(space).__name__} actions; rlscale agents "
                "need continuous (Box) actions"
            )
        self.low, self.high = space.low, space.high
        self.seed: int | None = seed  # consumed by the first reset; later resets continue its RNG

    def reset(self) -> np.ndarray:
        obs, _ = self.env.reset(seed=self.seed)
        self.seed = None
        return np.asarray(obs, np.float32).ravel()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool]:
        action = np.clip(action, -1.0, 1.0)
        obs, reward, terminated, truncated, _ = self.env.step(
            self.low + (action + 1.0) * 0.5 * (self.high - self.low)
        )
        return np.asarray(obs, np.float32).ravel(), float(reward), bool(terminated), bool(truncated)


def make_gym(name: str, max_episode_steps: int | None = None, action_repeat: int = 0) -> HostEnv:
    """A HostEnv description for `gym:<name>`; copies are built by `host.make_vector`."""
    action_repeat = action_repeat or DEFAULT_ACTION_REPEAT
    probe = GymEnv(name, 0)
    registered = probe.env.spec.max_episode_steps or 1000
    steps = max_episode_steps or registered // action_repeat
    obs_size = int(np.prod(probe.env.observation_space.shape))
    action_size = int(np.prod(probe.env.action_space.shape))
    probe.env.close()
    return HostEnv(
        f"gym:{name}", obs_size, action_size, steps, action_repeat, functools.partial(GymEnv, name)
    )
