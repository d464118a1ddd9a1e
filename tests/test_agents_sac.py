"""SAC as a library: shapes, the tanh-Gaussian density, the target's Polyak step, and make's
errors. The agent contract (vmap == separate, finite metrics, parameter count, learning): see
tests/test_agents_contract.py, whose "sac" case these tests read."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from agent_checks import SAC_ACT as ACT
from agent_checks import SAC_OBS as OBS
from agent_checks import unstack
from scipy.stats import norm

import rlscale
from rlscale.nets.policy import sample_tanh_gaussian


@pytest.fixture(scope="module")
def run(agent_runs):
    """Two updates of four runs sweeping the learning rate (the contract's "sac" case)."""
    return agent_runs["sac"]


def test_network_shapes_and_dtypes(run):
    state = unstack(run.states[0], 0)
    kernels = state.critic_params["params"]["torso"]
    # Two critics as ONE stacked parameter set: a leading ensemble axis, one batched matmul.
    assert kernels["Dense_0"]["kernel"].shape == (2, OBS + ACT, 32)
    assert kernels["Dense_1"]["kernel"].shape == (2, 32, 32)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(state.critic_params))
    # N = 2 critics x ((obs+act)*w + w + w*w + w + w + 1) for 2-layer critics of width w.
    assert run.agent.critic_param_count(state) == 2 * (
        (OBS + ACT) * 32 + 32 + 32 * 32 + 32 + 32 + 1
    )


def test_stochastic_actions_strictly_inside_bounds(run):
    params = unstack(run.states[0], 0).params
    action = run.agent.act(params, jnp.ones((5, OBS)), jax.random.key(1), False)
    assert bool(jnp.all(jnp.abs(action) < 1))  # strictly inside: tanh never reaches 1


def test_tanh_gaussian_log_prob_is_change_of_variables():
    mean, log_std = jnp.array([0.3]), jnp.array([-0.5])
    action, log_prob = sample_tanh_gaussian(mean, log_std, jax.random.key(0))
    pre_tanh = np.arctanh(float(action[0]))
    expected = norm.logpdf(pre_tanh, 0.3, np.exp(-0.5)) - np.log(1 - float(action[0]) ** 2)
    np.testing.assert_allclose(float(log_prob), expected, rtol=1e-4)


def test_update_changes_params_and_moves_target_by_tau(run):
    state, new_state = unstack(run.states[0], 0), unstack(run.states[1], 0)
    assert int(new_state.step) == 1
    moved = jax.tree.map(
        lambda a, b: bool(jnp.any(a != b)), state.critic_params, new_state.critic_params
    )
    assert all(jax.tree.leaves(moved))
    # The target moved by tau = 0.005 of the way towards the new online critic.
    old, new = state.target_critic_params, new_state.target_critic_params
    online = new_state.critic_params
    step = jax.tree.map(lambda o, n, c: (n - o) - 0.005 * (c - o), old, new, online)
    assert max(float(jnp.max(jnp.abs(x))) for x in jax.tree.leaves(step)) < 1e-6


def test_make_rejects_unknown_keys_with_choices():
    with pytest.raises(ValueError, match=r"unknown key 'critic_widht'.*critic_width"):
        rlscale.agents.make("sac", obs_size=3, action_size=1, critic_widht=64)
    with pytest.raises(ValueError, match=r"unknown agent 'sacc'; valid: .*'sac'"):
        rlscale.agents.make("sacc", obs_size=3, action_size=1)
