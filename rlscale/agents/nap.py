"""Normalize-and-Project (Lyle et al. 2024, "Normalization and effective learning rates in
reinforcement learning"): a normalisation layer before every nonlinearity, and every weight matrix
projected back onto the sphere of its initial norm after every optimiser step.

Behind a normalisation layer a kernel's scale does not change the output, so an update of size η
moves it by an angle of about η / ||W||. As ||W|| grows in a long RL run that effective learning
rate decays unseen; with the norm held at its initial value it is the learning-rate schedule the
config states (`learning_rate`, `lr_decay_updates`, `final_learning_rate`), nothing else.

Only Dense kernels ("kernel" leaves) are projected, each ensemble member's and expert's matrix on
its own (norms over the last two axes). Biases, LayerNorm gains and offsets stay free: they set
the output's scale and shift, which no normalisation layer absorbs.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from rlscale.types import Params


def _is_kernel(path: tuple, leaf: jax.Array) -> bool:
    last = path[-1]
    return getattr(last, "key", None) == "kernel" and leaf.ndim >= 2


def kernel_norms(params: Params) -> Params:
    """Frobenius norm of every kernel matrix, shape leaf.shape[:-2] (one per member/expert); a
    0-d placeholder for every other leaf."""

    def norm(path: tuple, leaf: jax.Array) -> jax.Array:
        if _is_kernel(path, leaf):
            return jnp.sqrt(jnp.sum(jnp.square(leaf), axis=(-2, -1)))
        return jnp.zeros((), leaf.dtype)

    return jax.tree_util.tree_map_with_path(norm, params)


def project(params: Params, norms: Params) -> Params:
    """Every kernel rescaled to the Frobenius norm in `norms` (other leaves unchanged)."""

    def rescale(path: tuple, leaf: jax.Array, target: jax.Array) -> jax.Array:
        if not _is_kernel(path, leaf):
            return leaf
        current = jnp.sqrt(jnp.sum(jnp.square(leaf), axis=(-2, -1), keepdims=True))
        return leaf * (target[..., None, None] / jnp.maximum(current, 1e-12))

    return jax.tree_util.tree_map_with_path(rescale, params, norms)


class NaPState(NamedTuple):
    inner: optax.OptState  # the wrapped optimiser's state
    norms: Params  # the kernels' norms at init, the sphere they are projected back onto


class NaPOptimizer(NamedTuple):
    """An optimiser whose steps end with `project` onto the norms recorded at `init`
    (`rlscale.agents.base.apply_gradients` applies it)."""

    inner: Any  # optax.GradientTransformation (with an injected learning rate)

    def init(self, params: Params) -> NaPState:
        return NaPState(self.inner.init(params), kernel_norms(params))
