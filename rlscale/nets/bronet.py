"""BroNet (Nauman et al. 2024, BRO, Fig. 3): LayerNorm residual MLP.

As `jaxrl/networks/common.py::BroNet` in the official code.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from rlscale.nets.orthogonal import orthogonal

# BRO initialises every Dense, the output layer included, orthogonally with gain sqrt(2).
_INIT = orthogonal(jnp.sqrt(2.0))  # LAPACK-free: see rlscale.nets.orthogonal


class BroNet(nn.Module):
    """x = ReLU(LN(Dense(x))); then `depth` blocks x += LN(Dense(ReLU(LN(Dense(x)))))."""

    width: int
    depth: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.relu(nn.LayerNorm()(nn.Dense(self.width, kernel_init=_INIT)(x)))
        for _ in range(self.depth):
            branch = nn.relu(nn.LayerNorm()(nn.Dense(self.width, kernel_init=_INIT)(x)))
            x = x + nn.LayerNorm()(nn.Dense(self.width, kernel_init=_INIT)(branch))
        return x


def output_layer(n_outputs: int) -> nn.Module:
    return nn.Dense(n_outputs, kernel_init=_INIT)


def log_std_layer(n_outputs: int) -> nn.Module:
    """The actor's log sigma head: orthogonal with gain 1 (`NormalTanhPolicy`), not sqrt(2)."""
    return nn.Dense(n_outputs, kernel_init=orthogonal(1.0))
