"""Types shared across agents, envs, replay and training (Stoix `base_types.py` shape)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

PRNGKey = jax.Array
Params = Any  # a flax variables pytree
Metrics = dict[str, jax.Array]


class Transition(NamedTuple):
    """One environment transition; leaves carry a leading batch axis when batched.

    `next_obs` is the true successor observation, also at a time-limit truncation (before any
    auto-reset), so the TD target can bootstrap from it. `terminated` is 1.0 only for true terminal
    states, where the target does not bootstrap.
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    terminated: jax.Array
