"""TD target and Polyak averaging, with the arithmetic in comments."""

import jax.numpy as jnp
import numpy as np

from rlscale.losses.td import polyak, td_target


def test_td_target_bootstraps_on_truncation_not_on_termination():
    reward = jnp.array([1.0, 1.0])
    next_value = jnp.array([10.0, 10.0])
    # A truncated step is stored with terminated = 0: y = 1 + 0.9 * 10 = 10.
    # A terminal step has terminated = 1: y = 1 + 0 = 1.
    y = td_target(reward, jnp.float32(0.9), jnp.array([0.0, 1.0]), next_value)
    np.testing.assert_allclose(y, [10.0, 1.0])


def test_td_target_broadcasts_over_atoms():
    y = td_target(jnp.array([1.0]), 0.5, jnp.array([0.0]), jnp.array([[2.0, 4.0]]))
    np.testing.assert_allclose(y, [[2.0, 3.0]])  # 1 + 0.5 * [2, 4]


def test_polyak_moves_target_by_tau():
    target = {"w": jnp.array([0.0, 10.0])}
    online = {"w": jnp.array([1.0, 0.0])}
    # 0.9 * [0, 10] + 0.1 * [1, 0] = [0.1, 9.0]
    np.testing.assert_allclose(polyak(target, online, 0.1)["w"], [0.1, 9.0], rtol=1e-6)
    np.testing.assert_allclose(polyak(target, online, 1.0)["w"], online["w"])
