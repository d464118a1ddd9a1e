"""Plain MLP torso, the critic wrapper and the ensemble that runs n critics as one batched matmul
(sbx/rejax). Torsos are chosen by name in `rlscale.nets.bodies`."""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp


class MLP(nn.Module):
    """`depth` hidden layers of `width` units; optional LayerNorm before each activation."""

    width: int
    depth: int
    activation: Callable[[jax.Array], jax.Array] = nn.relu
    layer_norm: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for _ in range(self.depth):
            x = nn.Dense(self.width)(x)
            if self.layer_norm:
                x = nn.LayerNorm()(x)
            x = self.activation(x)
        return x


class Critic(nn.Module):
    """Q(s, a) -> `n_outputs` numbers (1 for a scalar value, n bins for a categorical head).

    `output` builds the last layer from its width (nn.Dense; SimbaV2 uses its own projected head).
    """

    torso: nn.Module
    n_outputs: int
    output: Callable[[int], nn.Module] = nn.Dense
    n_detached: int = 0  # more outputs, by a Dense on the torso's features with no gradient back

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        x = self.torso(jnp.concatenate([obs, action], axis=-1))
        outputs = self.output(self.n_outputs - self.n_detached)(x)
        if not self.n_detached:
            return outputs
        detached = nn.Dense(self.n_detached)(jax.lax.stop_gradient(x))
        return jnp.concatenate([outputs, detached], axis=-1)


def make_ensemble(
    module: type[nn.Module], n: int, collections: tuple[str, ...] = ()
) -> type[nn.Module]:
    """Stack `n` independent copies of `module`: params (and any extra variable `collections`,
    e.g. CrossQ's "batch_stats") gain a leading axis of size n, and one call evaluates all copies
    with batched matmuls instead of a Python loop over networks.

    Returns:
        A module class whose outputs have a leading ensemble axis of size n.
    """
    return nn.vmap(
        module,
        variable_axes={"params": 0, **dict.fromkeys(collections, 0)},
        split_rngs={"params": True},
        in_axes=None,
        out_axes=0,
        axis_size=n,
    )
