"""Value heads: how a critic's outputs become a Q-value, a TD target, and a loss.

A head is selected by name in the agent config, so every agent can swap its value loss without
code changes (issue "agents" adds HL-Gauss, two-hot, C51 and quantile heads on this interface).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rlscale.losses.td import td_target


class ValueHead(NamedTuple):
    """Pure functions of one critic's raw outputs.

    n_outputs: critic output width.
    value: outputs [..., n_outputs] -> expected Q [...].
    target: (next_outputs [B, n_outputs], reward [B], gamma, terminated [B], entropy_bonus [B])
        -> the regression target in the head's own representation (scalar y, or a distribution).
    loss: (outputs [B, n_outputs], target) -> per-sample loss [B].
    """

    n_outputs: int
    value: Callable[[jax.Array], jax.Array]
    target: Callable[..., Any]
    loss: Callable[[jax.Array, Any], jax.Array]


def make_mse_head() -> ValueHead:
    """Scalar Q regressed with 0.5 * (Q - y)^2 (SAC; SBX `update_critic`)."""

    def value(outputs: jax.Array) -> jax.Array:
        return outputs[..., 0]

    def target(next_outputs, reward, gamma, terminated, entropy_bonus):
        return td_target(reward, gamma, terminated, value(next_outputs) + entropy_bonus)

    def loss(outputs: jax.Array, y: jax.Array) -> jax.Array:
        return 0.5 * jnp.square(value(outputs) - y)

    return ValueHead(1, value, target, loss)


HEADS: dict[str, Callable[..., ValueHead]] = {"mse": make_mse_head}


def make_value_head(name: str, **kwargs: Any) -> ValueHead:
    if name not in HEADS:
        raise ValueError(f"unknown value loss {name!r}; valid: {sorted(HEADS)}")
    return HEADS[name](**kwargs)


def select_pessimistic(head: ValueHead, outputs: jax.Array) -> jax.Array:
    """Per sample, the outputs of the ensemble member with the lowest expected Q (clipped
    double-Q, Fujimoto et al. 2018; for a scalar head this is min_i Q_i).

    Args:
        outputs: [n_critics, B, n_outputs].
    Returns:
        [B, n_outputs].
    """
    member = jnp.argmin(head.value(outputs), axis=0)  # [B]
    return jnp.take_along_axis(outputs, member[None, :, None], axis=0)[0]
