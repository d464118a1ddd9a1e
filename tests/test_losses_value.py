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


def test_quantile_loss_is_zero_at_a_dirac_target():
    """Catches: the Huber branches swapped (where(|u| > kappa, ...): at u = 0 the linear branch
    gives -kappa/2, so the loss at a Dirac target is not 0); a loss that is identically zero."""
    head = make_value_head("quantile", n_bins=4)
    y = jnp.array([[1.0, 2.0, 3.0, 4.0]])
    assert float(head.loss(jnp.zeros((1, 4)), y)[0]) > 0
    # A Dirac target: the loss is minimised by all quantiles at the target value.
    dirac = jnp.full((1, 4), 2.0)
    assert float(head.loss(dirac, dirac)[0]) == 0.0


# Hand-worked quantile Huber (Dabney et al. 2018, Eq. 10): N = 2 quantiles, midpoints
# tau = [0.25, 0.75]; u_ij = y_j - Z_i; rho = |tau_i - 1{u<0}| Huber_kappa(u) / kappa;
# loss = sum_i mean_j rho_ij. Huber_kappa(u) = u^2/2 if |u| <= kappa else kappa (|u| - kappa/2).
#
# Case A, kappa = 1, Z = [0, 3], y = [1, 2]:
#   i=0 (tau .25): u = [1, 2] > 0, weight .25; Huber = [.5, 1(2 - .5) = 1.5]; mean .25 * 1 = .25
#   i=1 (tau .75): u = [-2, -1] < 0, weight |.75 - 1| = .25; Huber = [1.5, .5]; mean .25
#   loss = .5. Asymmetry flipped (1{u>0}): every weight is .75 -> 1.5. tau of the target sample
#   (tau_j): i=0 (.25*.5 + .75*1.5)/2 = .625, i=1 (.75*1.5 + .25*.5)/2 = .625 -> 1.25.
# Case B, kappa = 2, Z = [0, 1], y = [3, -1]:
#   i=0 (tau .25): u = [3, -1]. u=3: linear, 2(3 - 1) = 4, /2 = 2, weight .25 -> .5;
#                  u=-1: .5/2 = .25, weight .75 -> .1875. mean (.5 + .1875)/2 = .34375
#   i=1 (tau .75): u = [2, -2]. both quadratic, 2/2 = 1; weights .75 and .25 -> mean .5
#   loss = .84375. Flipped: i=0 (.75*2 + .25*.25)/2 = .78125, i=1 .5 -> 1.28125. Without the
#   /kappa: 1.6875. taus i/N = [0, .5]: i=0 (0 + 1*.25)/2 = .125, i=1 .5 -> .625.
@pytest.mark.parametrize(
    ("kappa", "quantiles", "targets", "expected"),
    [(1.0, [0.0, 3.0], [1.0, 2.0], 0.5), (2.0, [0.0, 1.0], [3.0, -1.0], 0.84375)],
)
def test_quantile_huber_hand_worked(kappa, quantiles, targets, expected):
    """Catches: the asymmetry's sign flipped (1{u<0} -> 1{u>0}, equivalently u = Z - y; A and B),
    tau_j of the target sample instead of tau_i of the online quantile (A, B), the 1/kappa
    normalisation dropped (B), taus i/N instead of the midpoints (i + 0.5)/N (B), the linear
    branch's kappa/2 offset written as 1/2 (B)."""
    head = make_value_head("quantile", n_bins=2, kappa=kappa)
    loss = head.loss(jnp.array([quantiles]), jnp.array([targets]))
    np.testing.assert_allclose(loss, [expected], rtol=1e-6)


# Two critics, two samples. Sample 0: critic 0 is the pessimistic one; sample 1: critic 1.
# Scalar (mse): Q = [[1, 5], [3, 2]] -> min per sample [1, 2]; mean [2, 3.5].
# Quantile (N = 3, Q = mean of quantiles): sample 0: c0 [0, 1, 2] (Q 1), c1 [-1, 2, 5] (Q 2);
#   sample 1: c0 [4, 5, 6] (Q 5), c1 [0, 3, 9] (Q 4). min: member c0 for sample 0, c1 for
#   sample 1 (not the elementwise min [-1, 1, 2]); mean [-.5, 1.5, 3.5], [2, 4, 7.5].
# Categorical (K = 21 bins): sample 0: c0 all mass on bin 5, c1 half on bins 5 and 15 -> c0 is
#   lower; sample 1: c0 all on bin 15, c1 half on 5 and 15 -> c1 is lower. mean averages the
#   probabilities: sample 0 .75 on bin 5 and .25 on 15; sample 1 .25 and .75.
def _probs(mass):
    out = np.zeros(K)
    for bin_, p in mass.items():
        out[bin_] = p
    return out


def _logits(probs):
    return np.where(probs > 0, np.log(np.maximum(probs, 1e-30)), -1e4)


SCALAR = np.array([[[1.0], [5.0]], [[3.0], [2.0]]])
QUANTILES = np.array([[[0.0, 1.0, 2.0], [4.0, 5.0, 6.0]], [[-1.0, 2.0, 5.0], [0.0, 3.0, 9.0]]])
HALF = _probs({5: 0.5, 15: 0.5})
CATEGORICAL = np.array([[_probs({5: 1.0}), _probs({15: 1.0})], [HALF, HALF]])
CASES = {
    "mse": ({}, SCALAR, [[1.0], [2.0]], [[2.0], [3.5]]),
    # The robust heads are scalar heads: the same reductions as mse.
    "huber": ({}, SCALAR, [[1.0], [2.0]], [[2.0], [3.5]]),
    "absolute": ({}, SCALAR, [[1.0], [2.0]], [[2.0], [3.5]]),
    "quantile": (
        {"n_bins": 3},
        QUANTILES,
        [[0.0, 1.0, 2.0], [0.0, 3.0, 9.0]],
        [[-0.5, 1.5, 3.5], [2.0, 4.0, 7.5]],
    ),
    **{
        name: (
            {"v_min": V_MIN, "v_max": V_MAX, "n_bins": K},
            CATEGORICAL,
            [_probs({5: 1.0}), HALF],
            [_probs({5: 0.75, 15: 0.25}), _probs({5: 0.25, 15: 0.75})],
        )
        for name in ("hl_gauss", "two_hot", "c51")
    },
}


def test_every_head_has_a_hand_worked_ensemble_case():
    """Catches: a head added to HEADS without a reduction case below."""
    assert set(CASES) == set(HEADS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_head_reduces_ensembles(name):
    """Catches: min -> max (argmin -> argmax over members), the elementwise min over members
    instead of the pessimistic member's outputs, mean -> the first critic, and for categorical
    heads the mean of logits instead of the log of mean probabilities (BRC's mixture)."""
    kwargs, members, want_min, want_mean = CASES[name]
    head = make_value_head(name, **kwargs)
    categorical = name in ("hl_gauss", "two_hot", "c51")
    outputs = jnp.asarray(_logits(members) if categorical else members, jnp.float32)
    as_values = jax.nn.softmax if categorical else (lambda x: x)
    np.testing.assert_allclose(as_values(reduce_members(head, outputs, "min")), want_min, atol=1e-6)
    np.testing.assert_allclose(
        as_values(reduce_members(head, outputs, "mean")), want_mean, atol=1e-6
    )
