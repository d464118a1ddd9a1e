"""Gymnasium Pendulum-v1 ported to JAX (gymnasium/envs/classic_control/pendulum.py dynamics).

The embedded default environment: no MuJoCo, thousands of steps per second per core, and SAC
solves it in about 10-20k steps. Returns lie in roughly [-1600, 0]; a random policy gets about
-1200.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rlscale.envs.base import JaxEnv

MAX_SPEED, MAX_TORQUE, DT, G, MASS, LENGTH = 8.0, 2.0, 0.05, 10.0, 1.0, 1.0


def _obs(theta: jax.Array, theta_dot: jax.Array) -> jax.Array:
    return jnp.stack([jnp.cos(theta), jnp.sin(theta), theta_dot])


def reset(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    high = jnp.array([jnp.pi, 1.0])
    state = jax.random.uniform(key, (2,), minval=-high, maxval=high)
    return state, _obs(*state)


def step(state: jax.Array, action: jax.Array):
    theta, theta_dot = state
    torque = jnp.clip(action[0], -1.0, 1.0) * MAX_TORQUE  # agent acts in [-1, 1]
    angle = ((theta + jnp.pi) % (2 * jnp.pi)) - jnp.pi
    cost = angle**2 + 0.1 * theta_dot**2 + 0.001 * torque**2
    theta_dot = (
        theta_dot + (3 * G / (2 * LENGTH) * jnp.sin(theta) + 3.0 / (MASS * LENGTH**2) * torque) * DT
    )
    theta_dot = jnp.clip(theta_dot, -MAX_SPEED, MAX_SPEED)
    theta = theta + theta_dot * DT
    new_state = jnp.stack([theta, theta_dot])
    return new_state, _obs(theta, theta_dot), -cost, jnp.zeros((), bool)


def make_pendulum(max_episode_steps: int = 200) -> JaxEnv:
    return JaxEnv("jax:pendulum", 3, 1, max_episode_steps, reset, step)
