"""JAX environment interface, and the episode bookkeeping (time limits, auto-reset) shared by all.

An env family only supplies `reset(key) -> (state, obs)` and
`step(state, action) -> (state, obs, reward, terminated)` with actions in [-1, 1]. Time-limit
truncation and auto-reset live here, once, so every family reports them the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class JaxEnv(NamedTuple):
    name: str
    obs_size: int
    action_size: int
    max_episode_steps: int
    reset: Callable[[jax.Array], tuple[Any, jax.Array]]
    step: Callable[[Any, jax.Array], tuple[Any, jax.Array, jax.Array, jax.Array]]


class EpisodeState(NamedTuple):
    env_state: Any
    obs: jax.Array
    time: jax.Array  # steps taken in the current episode
    episode_return: jax.Array


class StepOutput(NamedTuple):
    next_obs: jax.Array  # the true successor, before any auto-reset
    reward: jax.Array
    terminated: jax.Array  # 1.0 at a true terminal state
    truncated: jax.Array  # 1.0 when the time limit ended the episode (and it did not terminate)
    finished_return: jax.Array  # the episode's return where it ended this step, else 0


def reset_episode(env: JaxEnv, key: jax.Array) -> EpisodeState:
    env_state, obs = env.reset(key)
    return EpisodeState(env_state, obs, jnp.zeros((), jnp.int32), jnp.zeros(()))


def step_episode(
    env: JaxEnv, state: EpisodeState, action: jax.Array, key: jax.Array
) -> tuple[EpisodeState, StepOutput]:
    """Step one env copy; at an episode end, report the outcome and start a fresh episode.

    Args:
        action: [action_size] in [-1, 1]. key: used only for the reset.
    """
    env_state, next_obs, reward, terminated = env.step(state.env_state, action)
    terminated = terminated.astype(jnp.float32)
    time = state.time + 1
    truncated = jnp.where(terminated > 0, 0.0, (time >= env.max_episode_steps).astype(jnp.float32))
    episode_return = state.episode_return + reward
    done = (terminated + truncated) > 0
    fresh = reset_episode(env, key)
    continued = EpisodeState(env_state, next_obs, time, episode_return)
    new_state = jax.tree.map(lambda f, c: jnp.where(done, f, c), fresh, continued)
    output = StepOutput(
        next_obs, reward, terminated, truncated, jnp.where(done, episode_return, 0.0)
    )
    return new_state, output
