"""Batch Renormalization (Ioffe 2017, Alg. 1) as CrossQ uses it (Bhatt et al. 2024;
`sbx/common/jax_layers.py::BatchRenorm`, science/agents.md section 3.3), and CrossQ's BRN MLP.

Running statistics live in the "batch_stats" collection, so they are part of the agent state and
vmap with it. Warm-up is plain BatchNorm; afterwards r/d correct towards the running statistics.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class BatchRenorm(nn.Module):
    """Train mode: x_hat = (x - mu_B)/sigma_B * r + d, r = clip(sigma_B/sigma_R, 1/r_max, r_max),
    d = clip((mu_B - mu_R)/sigma_R, -d_max, d_max) (r = 1, d = 0 during warm-up); eval mode
    normalises with the running statistics. `steps` counts this layer's train-mode calls."""

    train: bool
    momentum: float = 0.99
    warmup_steps: int = 100_000
    epsilon: float = 1e-3
    r_max: float = 3.0
    d_max: float = 5.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        size = x.shape[-1]
        mean_r = self.variable("batch_stats", "mean", lambda: jnp.zeros(size))
        var_r = self.variable("batch_stats", "var", lambda: jnp.ones(size))
        steps = self.variable("batch_stats", "steps", lambda: jnp.zeros((), jnp.int32))
        scale = self.param("scale", nn.initializers.ones, (size,))
        bias = self.param("bias", nn.initializers.zeros, (size,))
        if not self.train:
            x_hat = (x - mean_r.value) / jnp.sqrt(var_r.value + self.epsilon)
            return scale * x_hat + bias
        axes = tuple(range(x.ndim - 1))
        mean_b, var_b = jnp.mean(x, axes), jnp.var(x, axes)
        std_b, std_r = jnp.sqrt(var_b + self.epsilon), jnp.sqrt(var_r.value + self.epsilon)
        r = jnp.clip(jax.lax.stop_gradient(std_b / std_r), 1 / self.r_max, self.r_max)
        d = jnp.clip(
            jax.lax.stop_gradient((mean_b - mean_r.value) / std_r), -self.d_max, self.d_max
        )
        renorm = steps.value >= self.warmup_steps
        x_hat = (x - mean_b) / std_b * jnp.where(renorm, r, 1.0) + jnp.where(renorm, d, 0.0)
        if not self.is_initializing():  # SBX: init uses batch statistics and updates nothing
            m = self.momentum
            mean_r.value = m * mean_r.value + (1 - m) * jax.lax.stop_gradient(mean_b)
            var_r.value = m * var_r.value + (1 - m) * jax.lax.stop_gradient(var_b)
            steps.value = steps.value + 1
        return scale * x_hat + bias


class BRNMLP(nn.Module):
    """CrossQ torso: BRN(x) -> [Dense(width) -> ReLU -> BRN] x depth (`sbx/crossq/policies.py`)."""

    width: int
    depth: int
    train: bool
    momentum: float = 0.99
    warmup_steps: int = 100_000

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = BatchRenorm(self.train, self.momentum, self.warmup_steps)(x)
        for _ in range(self.depth):
            x = nn.relu(nn.Dense(self.width)(x))
            x = BatchRenorm(self.train, self.momentum, self.warmup_steps)(x)
        return x
