"""The device ring buffer against a Python list model."""

import jax
import jax.numpy as jnp
import numpy as np

from rlscale import replay
from rlscale.types import Transition


def _transitions(start, n):
    values = jnp.arange(start, start + n, dtype=jnp.float32)
    return Transition(values[:, None], values[:, None], values, values[:, None], values * 0)


def test_ring_buffer_matches_list_model_across_wraparound():
    capacity = 7
    buffer = replay.init(jax.tree.map(lambda x: x[0], _transitions(0, 1)), capacity)
    model: list[float] = []
    add = jax.jit(replay.add)
    start = 0
    for n in [3, 3, 3, 5, 1]:  # crosses the end of storage twice
        buffer = add(buffer, _transitions(start, n))
        model = (model + list(range(start, start + n)))[-capacity:]
        start += n
        assert int(buffer.size) == len(model)
        assert sorted(np.asarray(buffer.data.reward[: len(model)]).tolist()) == sorted(model)


def test_sample_draws_only_filled_rows_uniformly():
    buffer = replay.init(jax.tree.map(lambda x: x[0], _transitions(0, 1)), 100)
    buffer = replay.add(buffer, _transitions(1, 4))  # rows hold 1..4, the rest are zeros
    batch = replay.sample(buffer, jax.random.key(0), 4000)
    values, counts = np.unique(np.asarray(batch.reward), return_counts=True)
    assert values.tolist() == [1, 2, 3, 4]
    assert counts.min() > 850  # ~1000 each
