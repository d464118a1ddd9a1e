"""SAC as a library: shapes, the tanh-Gaussian density, and vmap(update) == separate updates."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

import rlscale
from rlscale.nets.policy import sample_tanh_gaussian
from rlscale.types import Transition

OBS, ACT, B = 3, 2, 16


@pytest.fixture(scope="module")
def agent():
    return rlscale.agents.make("sac", obs_size=OBS, action_size=ACT, critic_width=32, actor_width=32)


def _batch(key):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    return Transition(
        jax.random.normal(k1, (B, OBS)), jax.random.uniform(k2, (B, ACT), minval=-1, maxval=1),
        jax.random.normal(k3, (B,)), jax.random.normal(k4, (B, OBS)), jnp.zeros(B),
    )  # fmt: skip


def test_network_shapes_and_dtypes(agent):
    state = agent.init(jax.random.key(0))
    kernels = state.critic_params["params"]["torso"]
    # Two critics as ONE stacked parameter set: a leading ensemble axis, one batched matmul.
    assert kernels["Dense_0"]["kernel"].shape == (2, OBS + ACT, 32)
    assert kernels["Dense_1"]["kernel"].shape == (2, 32, 32)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(state.critic_params))
    action = agent.act(state.params, jnp.ones((5, OBS)), jax.random.key(1), False)
    assert action.shape == (5, ACT) and action.dtype == jnp.float32
    assert bool(jnp.all(jnp.abs(action) < 1))
    # N = (obs+act)*w + w + w*w + w + w + 1 for a 2-layer critic of width w.
    assert agent.critic_param_count(state) == (OBS + ACT) * 32 + 32 + 32 * 32 + 32 + 32 + 1


def test_tanh_gaussian_log_prob_is_change_of_variables():
    mean, log_std = jnp.array([0.3]), jnp.array([-0.5])
    action, log_prob = sample_tanh_gaussian(mean, log_std, jax.random.key(0))
    pre_tanh = np.arctanh(float(action[0]))
    expected = norm.logpdf(pre_tanh, 0.3, np.exp(-0.5)) - np.log(1 - float(action[0]) ** 2)
    np.testing.assert_allclose(float(log_prob), expected, rtol=1e-4)


def test_update_changes_params_and_reports_finite_metrics(agent):
    state = agent.init(jax.random.key(0))
    new_state, metrics = jax.jit(agent.update)(state, _batch(jax.random.key(1)), jax.random.key(2))
    assert int(new_state.step) == 1
    assert all(bool(jnp.isfinite(v)) for v in metrics.values())
    moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), state.critic_params, new_state.critic_params)
    assert all(jax.tree.leaves(moved))
    # The target moved by tau = 0.005 of the way towards the new online critic.
    old, new = state.target_critic_params, new_state.target_critic_params
    step = jax.tree.map(lambda o, n, c: (n - o) - 0.005 * (c - o), old, new, new_state.critic_params)
    assert max(float(jnp.max(jnp.abs(x))) for x in jax.tree.leaves(step)) < 1e-6


def test_vmapped_update_equals_separate_updates(agent):
    keys = jax.random.split(jax.random.key(0), 4)
    lrs = jnp.array([1e-4, 3e-4, 1e-3, 3e-3])  # a hyperparameter sweep, vmapped too
    states = [agent.init(k, agent.hparams._replace(learning_rate=lr)) for k, lr in zip(keys, lrs)]
    batches = [_batch(jax.random.fold_in(k, 1)) for k in keys]
    update_keys = [jax.random.fold_in(k, 2) for k in keys]
    update = jax.jit(agent.update)
    separate = [update(s, b, k) for s, b, k in zip(states, batches, update_keys)]
    stack = lambda xs: jax.tree.map(lambda *x: jnp.stack(x), *xs)  # noqa: E731
    batched = jax.jit(jax.vmap(agent.update))(stack(states), stack(batches), jnp.stack(update_keys))
    for i, (state_i, metrics_i) in enumerate(separate):
        for a, b in zip(jax.tree.leaves((state_i, metrics_i)), jax.tree.leaves(batched)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b)[i], rtol=2e-5, atol=1e-6)


def test_make_rejects_unknown_keys_with_choices():
    with pytest.raises(ValueError, match=r"unknown key 'critic_widht'.*critic_width"):
        rlscale.agents.make("sac", obs_size=3, action_size=1, critic_widht=64)
    with pytest.raises(ValueError, match=r"unknown agent 'sacc'; valid: .*'sac'"):
        rlscale.agents.make("sacc", obs_size=3, action_size=1)
