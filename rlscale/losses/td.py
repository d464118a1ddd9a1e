"""Temporal-difference targets and target-network averaging."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def td_target(
    reward: jax.Array, gamma: jax.Array, terminated: jax.Array, next_value: jax.Array
) -> jax.Array:
    """One-step target y = r + gamma * (1 - terminated) * V(s').

    Only true termination stops bootstrapping: a time-limit truncation keeps `terminated = 0`, so
    the target still bootstraps from the real successor state (Pardo et al. 2018, "Time Limits in
    Reinforcement Learning").

    Args:
        reward, terminated: [B]. gamma: scalar (a traced hyperparameter). next_value: [B] or [B, K]
        (K atoms/quantiles; the reward and mask broadcast over it).
    Returns:
        y with the shape of `next_value`; callers stop its gradient.
    """
    if next_value.ndim > reward.ndim:
        reward, terminated = reward[..., None], terminated[..., None]
    return reward + gamma * (1.0 - terminated) * next_value


def polyak(target: jax.Array, online: jax.Array, tau: jax.Array) -> jax.Array:
    """Exponential moving average target <- tau * online + (1 - tau) * target, over pytrees."""
    return jax.tree.map(lambda t, o: (1.0 - tau) * t + tau * o, target, online)


def global_norm(tree: object) -> jax.Array:
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(tree)))
