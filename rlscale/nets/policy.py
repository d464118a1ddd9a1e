"""Tanh-squashed Gaussian policy (SAC, Haarnoja et al. 2018, Appendix C: squashing correction)."""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

# SBX clips log sigma to this range (sbx/sac/policies.py).
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
LOG_STD_MODES = ("clip", "tanh")  # TanhGaussianActor.log_std


class TanhGaussianActor(nn.Module):
    """torso -> (mean, log sigma) heads. `output` builds each head from its width (the log sigma
    head from `log_std_output` if given); `log_std` is "clip" (SBX: clip to [-20, 2]) or "tanh"
    (SimbaV2/BRO: -10 + 12 * 0.5 (1 + tanh(raw)))."""

    torso: nn.Module
    action_size: int
    output: Callable[[int], nn.Module] = nn.Dense
    log_std: str = "clip"
    log_std_output: Callable[[int], nn.Module] | None = None  # None: the same as `output`

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = self.torso(obs)
        mean = self.output(self.action_size)(x)
        raw = (self.log_std_output or self.output)(self.action_size)(x)
        if self.log_std == "tanh":
            return mean, -10.0 + 12.0 * 0.5 * (1.0 + jnp.tanh(raw))
        return mean, jnp.clip(raw, LOG_STD_MIN, LOG_STD_MAX)


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
