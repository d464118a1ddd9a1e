"""The ValueHead interface shared by rlscale.losses.value and rlscale.losses.categorical."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class ValueHead(NamedTuple):
    """Pure functions of one critic's raw outputs.

    n_outputs: critic output width.
    value: outputs [..., n_outputs] -> expected Q [...].
    target: (next_outputs [B, n_outputs], reward [B], gamma, terminated [B], entropy_bonus [B])
        -> the regression target in the head's own representation (scalar y, or a distribution).
    loss: (outputs [B, n_outputs], target) -> per-sample loss [B].
    mix: outputs [n_critics, B, n_outputs] -> [B, n_outputs], the ensemble average in the head's
        own representation (mean of scalars/quantiles; log of mean probabilities for categorical).
    n_detached: of the outputs, how many (the last) are read from features the head's loss does
        not train: an auxiliary estimate (the saddle point's h) that must not reshape Q's torso.
    """

    n_outputs: int
    value: Callable[[jax.Array], jax.Array]
    target: Callable[..., Any]
    loss: Callable[[jax.Array, Any], jax.Array]
    mix: Callable[[jax.Array], jax.Array] = lambda outputs: jnp.mean(outputs, axis=0)
    n_detached: int = 0
