"""Agent 'simbav2': update and act reading the stream statistics, the hypersphere projection and
the LAPACK-free init. The statistics themselves: tests/test_agents_normalization.py; the agent
contract (vmap == separate, finite metrics, parameter count, learning):
tests/test_agents_contract.py, whose "simbav2" case these tests read."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from agent_checks import OBS, unstack
from agent_checks import SIMBAV2_ENVS as N_ENVS
from flax import traverse_util

from rlscale.agents.normalization import init_returns, init_running


@pytest.fixture(scope="module")
def run(agent_runs):
    """Two updates of two runs that first observed different streams, vmapped and one by one
    (the contract's "simbav2" case)."""
    return agent_runs["simbav2"]


def test_update_and_act_use_the_statistics(run):
    """update(stats, batch) == update(no stats, normalised batch with scaled reward), by hand."""
    state, batch, key = unstack(run.states[0], 0), unstack(run.batches, 0), jax.random.key(7)
    obs_stats, return_stats = state.obs_stats, state.return_stats
    norm = lambda x: (x - obs_stats.mean) / np.sqrt(obs_stats.var + 1e-8)  # noqa: E731
    scale = max(np.sqrt(return_stats.moments.var + 1e-8), return_stats.max_abs / 5.0)
    assert float(jnp.min(obs_stats.mean)) > 2.0 and abs(scale - 1.0) > 0.5  # far from identity
    plain = state._replace(obs_stats=init_running((OBS,)), return_stats=init_returns(N_ENVS))
    by_hand = batch._replace(
        obs=norm(batch.obs), next_obs=norm(batch.next_obs), reward=batch.reward / scale
    )
    got, got_metrics = run.update(state, batch, key)
    want, want_metrics = run.update(plain, by_hand, key)
    np.testing.assert_allclose(got_metrics.pop("critic/reward_scale"), scale, rtol=1e-5)
    assert want_metrics.pop("critic/reward_scale") == 1.0
    for a, b in zip(
        jax.tree.leaves((got.sac, got_metrics)),
        jax.tree.leaves((want.sac, want_metrics)),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # update reads the statistics and never writes them
    for a, b in zip(
        jax.tree.leaves((got.obs_stats, got.return_stats)),
        jax.tree.leaves((obs_stats, return_stats)),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    obs = jnp.asarray(batch.obs[:5])
    for deterministic in (True, False):
        a = run.agent.act(state.params, obs, key, deterministic)
        b = run.agent.act(plain.params, norm(obs), key, deterministic)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_hyper_dense_columns_unit_norm_after_updates(run):
    for states in run.states:  # init, then after each update
        for params in (states.sac.critic_params, states.sac.actor_params):
            kernels = [
                v
                for p, v in traverse_util.flatten_dict(params).items()
                if "hyper_dense" in p and p[-1] == "kernel"
            ]
            assert kernels
            for kernel in kernels:
                np.testing.assert_allclose(jnp.linalg.norm(kernel, axis=-2), 1.0, atol=1e-5)


_JIT_INIT = """
import jax
from rlscale.agents.registry import make
from rlscale.envs.host import VectorEnv, copy_seeds
for agent, width in (("simbav2", 64), ("simbav2", 32), ("bro", 128)):
    a = make(agent, obs_size=3, action_size=1, critic_width=width, actor_width=width)
    jax.block_until_ready(jax.jit(a.init)(jax.random.key(0)))
print("ok")
"""


def test_jitted_init_does_not_hang():
    """Regression: with jnp.linalg.qr (LAPACK geqrf/orgqr custom calls) in the orthogonal init,
    the jitted ensemble-critic init deadlocked on CPU (jaxlib 0.10.2 thunk executor) at these
    widths. Run in a subprocess so a regression fails on the timeout instead of hanging."""
    import subprocess
    import sys

    try:
        result = subprocess.run(
            [sys.executable, "-c", _JIT_INIT], capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        pytest.fail("jit(init) hung (orthogonal init deadlock regression)")
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]
