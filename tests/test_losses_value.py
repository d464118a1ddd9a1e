"""Categorical/quantile value heads: invariants and hand-worked cases (science/agents.md 5)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlscale.losses.categorical import hl_gauss_probs, project_atoms
from rlscale.losses.value import HEADS, make_value_head, reduce_members

V_MIN, V_MAX, K = -5.0, 5.0, 21


def test_hl_gauss_sums_to_one_and_mean_is_clipped_target():
    y = jnp.array([-7.0, -4.9, -1.23, 0.0, 2.5, 4.99, 9.0])
    probs = hl_gauss_probs(y, V_MIN, V_MAX, K)
    edges = np.linspace(V_MIN, V_MAX, K + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    mean = probs @ centres
    # Within a bin width inside; at the edges truncation biases the mean inwards by < 1 bin.
    np.testing.assert_allclose(mean, np.clip(y, V_MIN, V_MAX), atol=(V_MAX - V_MIN) / K)
    interior = np.abs(y) < 3
    np.testing.assert_allclose(mean[interior], y[interior], atol=1e-3)


def test_hl_gauss_sigma_is_three_quarters_of_a_bin():
    # y at a bin centre: mass 0.495 centre, 0.230 on each neighbour (sigma = 0.75 bin width).
    edges = np.linspace(V_MIN, V_MAX, K + 1)
    probs = hl_gauss_probs(jnp.array(0.5 * (edges[10] + edges[11])), V_MIN, V_MAX, K)
    np.testing.assert_allclose(probs[9:12], [0.2296, 0.4950, 0.2296], atol=2e-3)


def test_two_hot_point_mass_lands_on_neighbours():
    # atoms spacing 0.5: y = 1.2 -> b = (1.2 + 5)/0.5 = 12.4, 0.6 on atom 12 (1.0), 0.4 on 13 (1.5).
    probs = project_atoms(jnp.array([[1.2]]), jnp.ones((1, 1)), V_MIN, V_MAX, K)[0]
    np.testing.assert_allclose(probs[12], 0.6, atol=1e-6)
    np.testing.assert_allclose(probs[13], 0.4, atol=1e-6)
    np.testing.assert_allclose(probs.sum(), 1.0, atol=1e-6)
    exact = project_atoms(jnp.array([[1.0]]), jnp.ones((1, 1)), V_MIN, V_MAX, K)[0]
    assert exact[12] == 1.0  # integer b: floor == ceil keeps the mass


def test_c51_projection_conserves_mass_and_mean():
    key_atoms, key_probs = jax.random.split(jax.random.PRNGKey(0))
    atoms = jax.random.uniform(key_atoms, (8, 31), minval=-4.5, maxval=4.5)
    probs = jax.nn.softmax(jax.random.normal(key_probs, (8, 31)))
    projected = project_atoms(atoms, probs, V_MIN, V_MAX, K)
    support = np.linspace(V_MIN, V_MAX, K)
    np.testing.assert_allclose(projected.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(projected @ support, (atoms * probs).sum(-1), atol=1e-5)


@pytest.mark.parametrize("name", ["hl_gauss", "two_hot", "c51"])
def test_categorical_target_mean_is_td_target(name):
    head = make_value_head(name, v_min=V_MIN, v_max=V_MAX, n_bins=K)
    # Uniform over the atoms in [-2, 2] (E = 0), so C51's shifted atoms stay inside the support
    # and no mass is clipped at the edges (clipping changes the mean by design).
    atoms = jnp.linspace(V_MIN, V_MAX, K)
    next_outputs = jnp.tile(jnp.where(jnp.abs(atoms) <= 2.0, 0.0, -1e9), (4, 1))
    reward, terminated = jnp.array([0.5, -1.0, 0.25, 1.0]), jnp.array([0.0, 0.0, 1.0, 0.0])
    bonus = jnp.array([0.1, -0.2, 0.3, 0.0])
    target = head.target(next_outputs, reward, 0.9, terminated, bonus)
    y = reward + 0.9 * (1 - terminated) * (head.value(next_outputs) + bonus)
    np.testing.assert_allclose(target.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(head.value(jnp.log(target + 1e-20)), y, atol=1e-3)


def test_quantile_loss_is_zero_at_target_and_midpoint_taus():
    head = make_value_head("quantile", n_bins=4)
    y = jnp.array([[1.0, 2.0, 3.0, 4.0]])
    assert float(head.loss(jnp.zeros((1, 4)), y)[0]) > 0
    # A Dirac target: the loss is minimised by all quantiles at the target value.
    dirac = jnp.full((1, 4), 2.0)
    assert float(head.loss(dirac, dirac)[0]) == 0.0


def test_every_head_reduces_ensembles():
    for name in HEADS:
        head = make_value_head(name, v_min=V_MIN, v_max=V_MAX, n_bins=K)
        outputs = jax.random.normal(jax.random.PRNGKey(1), (2, 3, head.n_outputs))
        for rule in ("min", "mean"):
            assert reduce_members(head, outputs, rule).shape == (3, head.n_outputs)
