"""SimbaV2 hyperspherical networks (Lee et al. 2025, "Hyperspherical Normalization for Scalable
Deep RL", Sec. 4; `scale_rl/agents/simbaV2/simbaV2_layer.py`, science/agents.md section 4.2-4.4).

Every `hyper_dense` kernel is bias-free and its columns are re-projected onto the unit sphere after
each optimiser step by `project_hyper_dense`; Scalers carry the learnable magnitudes instead.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import traverse_util

from rlscale.nets.orthogonal import orthogonal

C_SHIFT = 3.0  # constant feature appended to the input before l2norm (keeps the input's norm)
EXPANSION = 4  # inner width of a block MLP, times the hidden width


def l2norm(x: jax.Array, axis: int = -1) -> jax.Array:
    return x / jnp.maximum(jnp.linalg.norm(x, axis=axis, keepdims=True), 1e-8)


class HyperDense(nn.Module):
    """Bias-free Dense, orthogonal init; the name `hyper_dense` marks it for projection."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        init = orthogonal(1.0, column_axis=0)  # LAPACK-free: see rlscale.nets.orthogonal
        return nn.Dense(self.features, use_bias=False, kernel_init=init, name="hyper_dense")(x)


class Scaler(nn.Module):
    """y = s * (init / scale) * x with s initialised to `scale`: effective value `init`, stored at
    magnitude `scale`, which sets its effective learning rate under Adam."""

    init_value: float
    scale: float

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        s = self.param("scaler", nn.initializers.constant(self.scale), (x.shape[-1],))
        return s * (self.init_value / self.scale) * x


class SimbaV2Torso(nn.Module):
    """Embedding h = l2norm(Scaler(W [x; c_shift]/||.||)), then `depth` LERP blocks."""

    width: int
    depth: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        shift = jnp.full((*x.shape[:-1], 1), C_SHIFT)
        x = l2norm(jnp.concatenate([x, shift], axis=-1))
        gain = jnp.sqrt(2.0 / self.width)
        h = l2norm(Scaler(gain, gain)(HyperDense(self.width)(x)))
        for _ in range(self.depth):
            inner = gain / jnp.sqrt(EXPANSION)
            u = Scaler(inner, inner)(HyperDense(EXPANSION * self.width)(h))
            u = nn.relu(u) + 1e-8  # the eps keeps an all-zero vector off the l2norm
            h_new = l2norm(HyperDense(self.width)(u))
            alpha = Scaler(1.0 / (self.depth + 1), 1.0 / jnp.sqrt(self.width))
            h = l2norm(h + alpha(h_new - h))  # LERP residual
        return h


class SimbaV2Head(nn.Module):
    """Linear-Scaler-linear head with a bias, no nonlinearity (HyperCategoricalValue/Policy)."""

    features: int

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        x = Scaler(1.0, 1.0)(HyperDense(h.shape[-1])(h))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        return HyperDense(self.features)(x) + bias


def project_hyper_dense(params: dict) -> dict:
    """Put every output unit's weight vector (a kernel column) of every `hyper_dense` layer on the
    unit sphere; ensemble kernels [n, in, out] are normalised over `in` too. Nothing else moves."""
    flat = traverse_util.flatten_dict(params)
    for path, leaf in flat.items():
        if "hyper_dense" in path and path[-1] == "kernel":
            flat[path] = l2norm(leaf, axis=-2)
    return traverse_util.unflatten_dict(flat)
