"""Value heads: how a critic's outputs become a Q-value, a TD target, and a loss.

A head is selected by name in the agent config, so every agent can swap its value loss without
code changes (issue "agents" adds HL-Gauss, two-hot, C51 and quantile heads on this interface).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from rlscale.losses.categorical import (
    make_c51_head,
    make_hl_gauss_head,
    make_quantile_head,
    make_two_hot_head,
)
from rlscale.losses.head import ValueHead
from rlscale.losses.robust import make_absolute_head, make_huber_head
from rlscale.losses.td import td_target

__all__ = [
    "ENSEMBLE_RULES",
    "HEADS",
    "ValueHead",
    "make_value_head",
    "reduce_members",
    "select_pessimistic",
]
ENSEMBLE_RULES = ("min", "mean")  # reduce_members' rules


def make_mse_head(**_: Any) -> ValueHead:
    """Scalar Q regressed with 0.5 * (Q - y)^2 (SAC; SBX `update_critic`); no support keys."""

    def value(outputs: jax.Array) -> jax.Array:
        return outputs[..., 0]

    def target(next_outputs, reward, gamma, terminated, entropy_bonus):
        return td_target(reward, gamma, terminated, value(next_outputs) + entropy_bonus)

    def loss(outputs: jax.Array, y: jax.Array) -> jax.Array:
        return 0.5 * jnp.square(value(outputs) - y)

    return ValueHead(1, value, target, loss)


def make_value_head(name: str, **kwargs: Any) -> ValueHead:
    """The head `name` in HEADS; kwargs set its options (v_min, v_max, n_bins: a categorical
    support; robust, huber_delta: a robust loss's form and threshold)."""
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


def reduce_members(head: ValueHead, outputs: jax.Array, rule: str) -> jax.Array:
    """Ensemble rule for the bootstrap: "min" (clipped double-Q, per-sample pessimistic member) or
    "mean" (BRO with pessimism 0, BRC's probability average). outputs [n, B, K] -> [B, K]."""
    if rule == "min":
        return select_pessimistic(head, outputs)
    if rule == "mean":
        return head.mix(outputs)
    raise ValueError(f"unknown ensemble rule {rule!r}; valid: {list(ENSEMBLE_RULES)}")


HEADS: dict[str, Callable[..., ValueHead]] = {
    "mse": make_mse_head,
    "hl_gauss": make_hl_gauss_head,
    "two_hot": make_two_hot_head,
    "c51": make_c51_head,
    "quantile": make_quantile_head,
    "huber": make_huber_head,
    "absolute": make_absolute_head,
}
