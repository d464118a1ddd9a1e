"""Replay buffer on device: a fixed-capacity ring buffer as a pytree, uniform sampling.

Inserts write n rows in place at the cursor (a scatter, O(n)); nothing copies or rolls the whole
buffer (Brax's `jnp.roll` per insert is O(capacity)). Under `jit` with donated state, XLA updates
the storage in place.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from rlscale.types import Transition


class ReplayBuffer(NamedTuple):
    data: Transition  # each leaf [capacity, ...]
    cursor: jax.Array  # next row to write
    size: jax.Array  # rows filled so far (<= capacity)


def init(example: Transition, capacity: int) -> ReplayBuffer:
    """An empty buffer shaped like `example` (one unbatched transition)."""
    data = jax.tree.map(
        lambda x: jnp.zeros((capacity, *jnp.shape(x)), jnp.asarray(x).dtype), example
    )
    return ReplayBuffer(data, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def add(buffer: ReplayBuffer, transitions: Transition) -> ReplayBuffer:
    """Append a batch of n transitions (leaves [n, ...]), overwriting the oldest when full."""
    capacity = jax.tree.leaves(buffer.data)[0].shape[0]
    n = jax.tree.leaves(transitions)[0].shape[0]
    rows = (buffer.cursor + jnp.arange(n)) % capacity
    data = jax.tree.map(lambda d, x: d.at[rows].set(x), buffer.data, transitions)
    return ReplayBuffer(
        data, (buffer.cursor + n) % capacity, jnp.minimum(buffer.size + n, capacity)
    )


def sample(buffer: ReplayBuffer, key: jax.Array, batch_size: int) -> Transition:
    """Uniform sample with replacement from the filled rows."""
    rows = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    return jax.tree.map(lambda d: d[rows], buffer.data)
