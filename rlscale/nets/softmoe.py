"""Soft Mixture of Experts (Puigcerver et al. 2024, "From Sparse to Soft Mixtures of Experts",
Sec. 2)
as a critic layer (Obando-Ceron et al. 2024, "Mixtures of Experts Unlock Parameter Scaling for Deep
RL"; dopamine `labs/moes/architectures/softmoe.py`, vmoe `SoftRouter`; science/agents.md section 6).

Routing runs over the tokens of one sample, never across the batch. Tokenisations of a flat input:
"chunk" (default) splits the trunk's hidden vector into `n_tokens` tokens; "feature" embeds each
scalar of (s, a) as its own token (x_j w_j + b_j).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from rlscale.nets.mlp import MLP

TOKENIZATIONS = ("chunk", "feature")  # SoftMoETorso.tokenize


def route(tokens: jax.Array, phi: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Dispatch and combine weights from logits[b,i,e,s] = tokens[b,i] . phi[:,e,s].

    Args:
        tokens: [B, m, d]. phi: [d, n_experts, slots].
    Returns:
        dispatch [B, m, n, p] (softmax over tokens i: a slot is a convex mix of tokens) and
        combine [B, m, n, p] (softmax over all (e, s): a token is a convex mix of slot outputs).
    """
    logits = jnp.einsum("bmd,dnp->bmnp", tokens, phi)
    dispatch = jax.nn.softmax(logits, axis=1)
    batch, m, n, p = logits.shape
    combine = jax.nn.softmax(logits.reshape(batch, m, n * p), axis=-1).reshape(logits.shape)
    return dispatch, combine


class Expert(nn.Module):
    """Dense(hidden) -> ReLU -> Dense(token size) (dopamine `ExpertModel`, maintain_token_size)."""

    hidden: int
    layer_norm: bool = False  # LayerNorm before the ReLU (Normalize-and-Project)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        init = nn.initializers.xavier_uniform()
        output = nn.Dense(x.shape[-1], kernel_init=init)  # built first: named Dense_0, as before
        h = nn.Dense(self.hidden, kernel_init=init)(x)
        h = nn.LayerNorm()(h) if self.layer_norm else h
        return output(nn.relu(h))


class SoftMoE(nn.Module):
    """tokens [B, m, d] -> [B, m, d]. vmoe normalisation: tokens and phi l2-normalised over d and
    phi multiplied by a learnable scale (init 1), which keeps the routing logits bounded."""

    n_experts: int
    expert_hidden: int
    capacity_factor: float = 1.0
    layer_norm: bool = False  # in every expert, before its ReLU

    @nn.compact
    def __call__(self, tokens: jax.Array) -> jax.Array:
        m, d = tokens.shape[-2:]
        slots = math.ceil(m * self.capacity_factor / self.n_experts)
        phi = self.param("phi", nn.initializers.lecun_normal(), (d, self.n_experts, slots))
        scale = self.param("scale", nn.initializers.ones, ())
        # rsqrt(|x|^2 + eps), not x/max(|x|, eps): an all-zero token (a zero input feature under
        # "feature" tokens) would otherwise give a NaN gradient through the norm.
        unit = lambda x, axis: x * jax.lax.rsqrt(jnp.sum(x * x, axis, keepdims=True) + 1e-12)  # noqa: E731
        dispatch, combine = route(unit(tokens, -1), scale * unit(phi, 0))
        slot_inputs = jnp.einsum("bmnp,bmd->bnpd", dispatch, tokens)
        experts = nn.vmap(
            Expert,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=1,
            out_axes=1,
            axis_size=self.n_experts,
        )(self.expert_hidden, self.layer_norm)
        return jnp.einsum("bmnp,bnpd->bmd", combine, experts(slot_inputs))


class SoftMoETorso(nn.Module):
    """ "chunk": MLP(width, depth-1) -> split into n_tokens -> SoftMoE -> flatten (width): the MoE
    replaces the penultimate dense layer, as in the RL paper. "feature": one token of size
    width/n_tokens per input scalar -> SoftMoE -> flatten -> MLP(width, depth-1).
    Expert hidden width = `width`, so with n_experts = n_tokens/2 the SoftMoE layer has the
    parameters of the width x width layer it replaces (2 n (width/T) width = width^2)."""

    width: int
    depth: int
    n_experts: int = 4
    n_tokens: int = 8
    tokenize: str = "chunk"
    layer_norm: bool = False  # LayerNorm before every ReLU, the experts' included (NaP)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        token_size = self.width // self.n_tokens
        moe = SoftMoE(self.n_experts, self.width, layer_norm=self.layer_norm)
        if self.tokenize == "chunk":
            h = MLP(self.width, self.depth - 1, layer_norm=self.layer_norm)(x)
            tokens = h.reshape(*h.shape[:-1], self.n_tokens, token_size)
            return moe(tokens).reshape(h.shape)
        if self.tokenize == "feature":
            w = self.param("embed_w", nn.initializers.normal(1.0), (x.shape[-1], token_size))
            b = self.param("embed_b", nn.initializers.zeros, (x.shape[-1], token_size))
            tokens = x[..., None] * w + b
            return MLP(self.width, self.depth - 1, layer_norm=self.layer_norm)(
                moe(tokens).reshape(*x.shape[:-1], -1)
            )
        raise ValueError(f"unknown tokenize {self.tokenize!r}; valid: {list(TOKENIZATIONS)}")
