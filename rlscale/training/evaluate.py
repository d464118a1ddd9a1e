"""Deterministic evaluation episodes, run inside the compiled program."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rlscale.agents.base import Agent
from rlscale.envs.base import JaxEnv
from rlscale.types import Params


def evaluate(agent: Agent, env: JaxEnv, params: Params, key: jax.Array, episodes: int) -> jax.Array:
    """Mean undiscounted return of `episodes` parallel episodes of the deterministic policy.

    Each episode runs to its time limit; rewards after a termination are masked out.
    """

    def episode(key: jax.Array) -> jax.Array:
        env_state, obs = env.reset(key)

        def step(carry, _):
            env_state, obs, alive, total = carry
            action = agent.act(params, obs, key, True)
            env_state, obs, reward, terminated = env.step(env_state, action)
            total = total + alive * reward
            return (env_state, obs, alive * (1.0 - terminated), total), None

        init = (env_state, obs, jnp.ones(()), jnp.zeros(()))
        (_, _, _, total), _ = jax.lax.scan(step, init, None, length=env.max_episode_steps)
        return total

    return jnp.mean(jax.vmap(episode)(jax.random.split(key, episodes)))
