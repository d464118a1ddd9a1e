"""Network components: the LAPACK-free orthogonal init, SimbaV2 projection, BatchRenorm, SoftMoE
routing, parameter-count formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlscale.agents.registry import make
from rlscale.nets import orthogonal
from rlscale.nets.batchrenorm import BatchRenorm
from rlscale.nets.softmoe import SoftMoE, route

OBS, ACT = 3, 1


@pytest.mark.parametrize("block", [orthogonal.BLOCK, 8])
def test_lapack_free_orthogonal_matches_flax(monkeypatch, block):
    """Against flax's LAPACK QR: shapes within one panel, across panels (block 8: 200 columns =
    25 panels), with padded columns and padded rows (70 columns -> 72; 100 rows < 128 at block
    64), transposed kernels and 3-d kernels."""
    import flax.linen as nn

    monkeypatch.setattr(orthogonal, "BLOCK", block)
    key = jax.random.PRNGKey(3)
    cases = (
        ((64, 256), 0),
        ((256, 64), 0),
        ((5, 32), 0),
        ((32, 32), -1),
        ((3, 4, 5), -1),
        ((300, 200), -1),
        ((100, 70), -1),
        ((70, 100), -1),
    )
    for shape, axis in cases:
        want = nn.initializers.orthogonal(1.5, column_axis=axis)(key, shape)
        got = jax.jit(orthogonal.orthogonal(1.5, column_axis=axis), static_argnums=1)(key, shape)
        np.testing.assert_allclose(got, want, atol=5e-5, err_msg=str(shape))


def test_batchrenorm_is_batchnorm_in_warmup_and_clips_after():
    x = 10.0 + 5.0 * jax.random.normal(jax.random.PRNGKey(0), (64, 4))
    layer = BatchRenorm(train=True, warmup_steps=1)
    variables = layer.init(jax.random.PRNGKey(1), x)
    y, updated = layer.apply(variables, x, mutable=["batch_stats"])
    batchnorm = (x - x.mean(0)) / jnp.sqrt(x.var(0) + 1e-3)
    np.testing.assert_allclose(y, batchnorm, atol=1e-5)  # warm-up: plain BatchNorm
    # After warm-up the running stats (mean 0.1, var 1.24) are far from the batch (10, 25):
    # r = 5/1.11 clips at 3 and d = 9.9/1.11 at 5.
    y_after, _ = layer.apply({**variables, **updated}, x, mutable=["batch_stats"])
    stats = updated["batch_stats"]
    sigma_r = jnp.sqrt(stats["var"] + 1e-3)
    r = jnp.clip(jnp.sqrt(x.var(0) + 1e-3) / sigma_r, 1 / 3, 3)
    d = jnp.clip((x.mean(0) - stats["mean"]) / sigma_r, -5, 5)
    np.testing.assert_allclose(y_after, batchnorm * r + d, atol=1e-4)
    np.testing.assert_allclose(r, 3.0)
    np.testing.assert_allclose(d, 5.0)
    assert int(stats["steps"]) == 1


def test_softmoe_weights_normalise():
    tokens = jax.random.normal(jax.random.PRNGKey(0), (5, 6, 8))
    phi = jax.random.normal(jax.random.PRNGKey(1), (8, 3, 2))
    dispatch, combine = route(tokens, phi)
    np.testing.assert_allclose(dispatch.sum(axis=1), 1.0, atol=1e-5)  # over tokens
    np.testing.assert_allclose(combine.sum(axis=(2, 3)), 1.0, atol=1e-5)  # over slots


def test_softmoe_with_one_token_is_a_dense_mixture():
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 1, 8))
    layer = SoftMoE(n_experts=3, expert_hidden=16)
    variables = layer.init(jax.random.PRNGKey(1), x)
    params = variables["params"]
    phi = params["phi"]  # [d, n, p = 1]
    unit_x = x / jnp.linalg.norm(x, axis=-1, keepdims=True)
    logits = jnp.einsum(
        "bmd,dnp->bmnp", unit_x, params["scale"] * phi / jnp.linalg.norm(phi, axis=0)
    )
    gate = jax.nn.softmax(logits.reshape(4, 3), axis=-1)  # one token: dispatch = 1, gate = combine
    experts = params["VmapExpert_0"]
    first, second = experts["Dense_1"], experts["Dense_0"]  # the outer Dense is built first
    hidden = jax.nn.relu(jnp.einsum("bd,ndh->bnh", x[:, 0], first["kernel"]) + first["bias"])
    outs = jnp.einsum("bnh,nhd->bnd", hidden, second["kernel"]) + second["bias"]
    np.testing.assert_allclose(
        layer.apply(variables, x)[:, 0], jnp.einsum("bn,bnd->bd", gate, outs), atol=1e-5
    )


def _formula(net, d_in, width, depth, outputs):
    """Parameters of one critic (documented in the report / module docstrings)."""
    if net == "mlp":
        return (d_in + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * outputs
    if net == "bronet":  # stem Dense+LN, per block 2 x (Dense + LN), output Dense
        return (d_in + 3) * width + depth * 2 * (width * width + 3 * width) + (width + 1) * outputs
    if net == "simbav2":  # embed W (+shift feature) + scaler; blocks 8W^2 + 5W; head W^2+W + WK+K
        emb = (d_in + 1) * width + width
        return (
            emb
            + depth * (8 * width * width + 5 * width)
            + width * width
            + width
            + (width + 1) * outputs
        )
    if net == "softmoe":  # MLP(depth-1) + SoftMoE(T tokens of W/T, n experts, p = ceil(T/n))
        experts, tokens = 4, 8
        token, slots = width // tokens, -(-tokens // experts)
        moe = token * experts * slots + 1 + experts * (2 * token * width + width + token)
        return (d_in + 1) * width + (depth - 2) * (width + 1) * width + moe + (width + 1) * outputs
    raise ValueError(net)


@pytest.mark.parametrize("net", ["mlp", "bronet", "simbav2", "softmoe"])
@pytest.mark.parametrize("width", [16, 64])
def test_critic_param_count_matches_formula(net, width):
    agent = make(
        "sac",
        obs_size=OBS,
        action_size=ACT,
        critic_width=width,
        critic_net=net,
        actor_width=16,
        value_loss="c51",
        n_bins=11,
    )
    state = jax.eval_shape(agent.init, jax.random.PRNGKey(0))
    count = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state.critic_params)) // 2
    assert count == _formula(net, OBS + ACT, width, 2, 11)
