"""Tanh-squashed Gaussian policy (SAC, Haarnoja et al. 2018, Appendix C: squashing correction)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

# SBX clips log sigma to this range (sbx/sac/policies.py).
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0


class TanhGaussianActor(nn.Module):
    torso: nn.Module
    action_size: int

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = self.torso(obs)
        mean = nn.Dense(self.action_size)(x)
        log_std = jnp.clip(nn.Dense(self.action_size)(x), LOG_STD_MIN, LOG_STD_MAX)
        return mean, log_std


def sample_tanh_gaussian(
    mean: jax.Array, log_std: jax.Array, key: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Reparameterised a = tanh(mean + std * eps) and its log-probability.

    Args:
        mean, log_std: [..., A] pre-squash Gaussian parameters.
        key: PRNG key.
    Returns:
        action [..., A] in (-1, 1) and log pi(a|s) [...], including the tanh Jacobian.
    """
    eps = jax.random.normal(key, mean.shape)
    pre_tanh = mean + jnp.exp(log_std) * eps
    gaussian_log_prob = -0.5 * (eps**2 + jnp.log(2 * jnp.pi)) - log_std
    # log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)): the stable form, no log(0) near |a| = 1.
    log_det = 2.0 * (jnp.log(2.0) - pre_tanh - jax.nn.softplus(-2.0 * pre_tanh))
    return jnp.tanh(pre_tanh), jnp.sum(gaussian_log_prob - log_det, axis=-1)
