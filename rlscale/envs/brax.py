"""Brax environments (`brax:<name>`) behind the JaxEnv interface.

Brax's own trainers are not used (they break on current JAX); only its environments. Brax's
episode wrappers are skipped: time limits and auto-reset come from rlscale.envs.base.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rlscale.envs.base import JaxEnv


def brax_names() -> list[str]:
    from brax import envs

    return sorted(envs._envs)


def make_brax(name: str, max_episode_steps: int = 1000, backend: str = "mjx") -> JaxEnv:
    from brax import envs

    env = envs.get_environment(name, backend=backend)

    def reset(key: jax.Array):
        state = env.reset(key)
        return state, state.obs

    def step(state, action: jax.Array):
        state = env.step(state, jnp.clip(action, -1.0, 1.0))
        return state, state.obs, state.reward, state.done > 0

    return JaxEnv(
        f"brax:{name}", env.observation_size, env.action_size, max_episode_steps, reset, step
    )
