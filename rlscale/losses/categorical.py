"""Categorical and quantile value heads on the ValueHead interface (science/agents.md 5, 7.3).

HL-Gauss (Imani & White 2018; Farebrother et al. 2024 "Stop Regressing", sigma = 0.75 bin width) and
two-hot turn the one scalar TD target y = r + gamma (1-d) (E[Z'] + bonus) into a distribution; C51
(Bellemare et al. 2017, Alg. 1) projects the shifted next-state atoms instead (SimbaV2's
`categorical_td_loss`, entropy inside the shift). Quantile: QR-DQN quantile Huber (Dabney et al.
2018, Eq. 10), BRO's critic. Support and bins are static; reward scaling never moves them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import erf

from rlscale.losses.head import ValueHead
from rlscale.losses.td import td_target


def hl_gauss_probs(y: jax.Array, v_min: float, v_max: float, n_bins: int) -> jax.Array:
    """Gaussian N(y, sigma^2) integrated over each bin, truncated to [v_min, v_max], renormalised.

    Bin-edge convention (HL-Gauss reference): edges linspace(v_min, v_max, n_bins + 1), width
    zeta = (v_max - v_min) / n_bins, sigma = 0.75 zeta; y is clipped to the support first so the
    normaliser cannot underflow.

    Args:
        y: [...] scalar targets.
    Returns:
        [..., n_bins] probabilities.
    """
    sigma = 0.75 * (v_max - v_min) / n_bins
    edges = jnp.linspace(v_min, v_max, n_bins + 1)
    y = jnp.clip(y, v_min, v_max)[..., None]
    cdf = erf((edges - y) / (jnp.sqrt(2.0) * sigma))
    return (cdf[..., 1:] - cdf[..., :-1]) / (cdf[..., -1:] - cdf[..., :1])


def project_atoms(
    atoms: jax.Array, probs: jax.Array, v_min: float, v_max: float, n_bins: int
) -> jax.Array:
    """C51 projection of sum_j probs_j delta(atoms_j) onto linspace(v_min, v_max, K).

    Mass at b = (clip(atom) - v_min)/dz goes (u - b) to floor l and (b - l) to ceil u; when b is an
    integer l == u and the `l == u` term keeps its mass (SimbaV2 / BRC code). Mass and, inside
    the support, the mean are conserved.

    Args:
        atoms, probs: [..., J] (J need not equal K).
    Returns:
        [..., n_bins] probabilities.
    """
    delta = (v_max - v_min) / (n_bins - 1)
    b = (jnp.clip(atoms, v_min, v_max) - v_min) / delta
    lower, upper = jnp.floor(b), jnp.ceil(b)
    mass_lower = probs * (upper + (lower == upper) - b)
    mass_upper = probs * (b - lower)
    bins = jnp.arange(n_bins)
    onehot_lower = lower[..., None].astype(jnp.int32) == bins  # [..., J, K]
    onehot_upper = upper[..., None].astype(jnp.int32) == bins
    return jnp.sum(mass_lower[..., None] * onehot_lower + mass_upper[..., None] * onehot_upper, -2)


def _cross_entropy(logits: jax.Array, target_probs: jax.Array) -> jax.Array:
    return -jnp.sum(target_probs * jax.nn.log_softmax(logits), axis=-1)


def _mix_probs(outputs: jax.Array) -> jax.Array:
    """Ensemble average of categorical critics as logits: log of the mean probabilities (BRC)."""
    return jnp.log(jnp.mean(jax.nn.softmax(outputs), axis=0) + 1e-12)


def make_hl_gauss_head(v_min: float = -10.0, v_max: float = 10.0, n_bins: int = 101) -> ValueHead:
    """HL-Gauss: Q = sum softmax(logits) * bin centres; loss CE(HL-Gauss(y), logits)."""
    edges = jnp.linspace(v_min, v_max, n_bins + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])

    def value(outputs):
        return jnp.sum(jax.nn.softmax(outputs) * centres, axis=-1)

    def target(next_outputs, reward, gamma, terminated, entropy_bonus):
        y = td_target(reward, gamma, terminated, value(next_outputs) + entropy_bonus)
        return hl_gauss_probs(y, v_min, v_max, n_bins)

    return ValueHead(n_bins, value, target, _cross_entropy, _mix_probs)


def make_two_hot_head(v_min: float = -10.0, v_max: float = 10.0, n_bins: int = 101) -> ValueHead:
    """Two-hot: the C51 projection of a Dirac at the TD target onto linspace(v_min, v_max)."""
    atoms = jnp.linspace(v_min, v_max, n_bins)

    def value(outputs):
        return jnp.sum(jax.nn.softmax(outputs) * atoms, axis=-1)

    def target(next_outputs, reward, gamma, terminated, entropy_bonus):
        y = td_target(reward, gamma, terminated, value(next_outputs) + entropy_bonus)
        return project_atoms(y[..., None], jnp.ones_like(y)[..., None], v_min, v_max, n_bins)

    return ValueHead(n_bins, value, target, _cross_entropy, _mix_probs)


def make_c51_head(v_min: float = -5.0, v_max: float = 5.0, n_bins: int = 101) -> ValueHead:
    """C51 with the soft (entropy) bonus inside the atom shift: Tz = r + gamma (1-d) (z + bonus)
    (SimbaV2 `categorical_td_loss`, science/agents.md section 4.5)."""
    atoms = jnp.linspace(v_min, v_max, n_bins)

    def value(outputs):
        return jnp.sum(jax.nn.softmax(outputs) * atoms, axis=-1)

    def target(next_outputs, reward, gamma, terminated, entropy_bonus):
        shifted = td_target(reward, gamma, terminated, atoms + entropy_bonus[..., None])
        return project_atoms(shifted, jax.nn.softmax(next_outputs), v_min, v_max, n_bins)

    return ValueHead(n_bins, value, target, _cross_entropy, _mix_probs)


def make_quantile_head(n_bins: int = 100, kappa: float = 1.0, **_: float) -> ValueHead:
    """Quantile critic, midpoints tau_i = (i + 0.5)/N; target y_j = r + gamma (1-d) (Z'_j + bonus);
    loss sum_i mean_j |tau_i - 1[u<0]| Huber_kappa(u)/kappa, u = y_j - Z_i (BRO `critic.py`).
    Support bounds are accepted and ignored: quantiles are unbounded."""
    taus = (jnp.arange(n_bins) + 0.5) / n_bins

    def value(outputs):
        return jnp.mean(outputs, axis=-1)

    def target(next_outputs, reward, gamma, terminated, entropy_bonus):
        return td_target(reward, gamma, terminated, next_outputs + entropy_bonus[..., None])

    def loss(outputs, y):
        u = y[..., None, :] - outputs[..., :, None]  # [B, i, j]
        huber = jnp.where(jnp.abs(u) <= kappa, 0.5 * u**2, kappa * (jnp.abs(u) - 0.5 * kappa))
        weight = jnp.abs(taus[:, None] - (u < 0))
        return jnp.sum(jnp.mean(weight * huber / kappa, axis=-1), axis=-1)

    return ValueHead(n_bins, value, target, loss, lambda outputs: jnp.mean(outputs, axis=0))
