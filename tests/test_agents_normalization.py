"""SimbaV2's stream statistics (rlscale.agents.normalization, science/agents.md section 4.6):
observation RSNorm and the running-return reward scale against numpy recomputations, vmapped runs
against separate ones, and both training drivers feeding the agent's observer every env step."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from agent_checks import ACT, OBS, observe_stream, random_stream, unstack

from rlscale import envs
from rlscale.agents.normalization import init_returns, reward_scale, update_returns
from rlscale.agents.registry import make
from rlscale.envs.host import VectorEnv, copy_seeds
from rlscale.training import host_loop, loop
from rlscale.types import Transition

N_ENVS, GAMMA = 2, 0.99  # GAMMA: SimbaV2's default discount
TINY = {"action_size": ACT, "critic_width": 16, "actor_width": 16, "critic_depth": 1, "n_bins": 11}


def numpy_moments(x):
    """Mean and variance of samples x [n, ...] pooled with the prior (mean 0, var 1, count 1e-4)."""
    x = np.asarray(x, np.float64)
    n, prior = len(x), 1e-4
    mean = n * x.mean(0) / (n + prior)
    var = (prior * (1 + mean**2) + n * (x.var(0) + (x.mean(0) - mean) ** 2)) / (n + prior)
    return mean, var


def numpy_returns(reward, done, gamma):
    """G_t = gamma (1 - done_t) G_{t-1} + r_t per env copy: [steps, n_envs]."""
    returns, g = [], np.zeros(reward.shape[1])
    for r, d in zip(np.asarray(reward, np.float64), np.asarray(done, np.float64), strict=True):
        g = gamma * (1 - d) * g + r
        returns.append(g)
    return np.stack(returns)


@pytest.fixture(scope="module")
def agent():
    return make("simbav2", obs_size=OBS, **TINY)


@pytest.fixture(scope="module")
def initial(agent):
    """One initial state (its networks do not matter to the statistics)."""
    return jax.jit(agent.init)(jax.random.key(0))


def test_rsnorm_matches_numpy_and_vmapped_equals_separate(agent, initial):
    keys = jax.random.split(jax.random.key(1), 2)
    streams = jax.vmap(lambda k: random_stream(k, 40, N_ENVS))(keys)
    init = jax.tree.map(lambda x: jnp.stack([x, x]), initial)
    observe = lambda s, o, r, d: observe_stream(agent, s, o, r, d)  # noqa: E731
    vmapped = jax.jit(jax.vmap(observe))(init, *streams)
    for i in range(2):
        obs, reward, done = unstack(streams, i)
        separate = jax.jit(observe)(initial, obs, reward, done)
        vmapped_i = unstack(vmapped, i)
        for a, b in zip(jax.tree.leaves(vmapped_i), jax.tree.leaves(separate), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
        flat = np.asarray(obs).reshape(-1, OBS)  # every observation of every copy
        mean, var = numpy_moments(flat)
        np.testing.assert_allclose(separate.obs_stats.mean, mean, rtol=1e-5)
        np.testing.assert_allclose(separate.obs_stats.var, var, rtol=1e-4)
        # ... and with a prior count of 1e-4 these are the plain numpy moments of the stream.
        np.testing.assert_allclose(separate.obs_stats.mean, flat.mean(0), rtol=1e-4)
        np.testing.assert_allclose(separate.obs_stats.var, flat.var(0), rtol=1e-4)
        assert float(separate.obs_stats.count) == pytest.approx(len(flat) + 1e-4)


def test_running_return_hand_worked():
    # gamma 0.5, one copy, rewards 1 2 3 4, done on the 2nd transition (cut BEFORE its reward):
    # G = 1;  0.5 (1 - 1) 1 + 2 = 2;  0.5 * 2 + 3 = 4;  0.5 * 4 + 4 = 6.  max|G| = 6.
    # Moments of {1, 2, 4, 6}: mean 3.25, var (2.25^2 + 1.25^2 + 0.75^2 + 2.75^2) / 4 = 3.6875.
    stats = init_returns(1)
    for reward, done in ((1.0, 0.0), (2.0, 1.0), (3.0, 0.0), (4.0, 0.0)):
        stats = update_returns(stats, jnp.array([reward]), jnp.array([done]), 0.5)
    np.testing.assert_allclose(stats.running_return, [6.0])
    np.testing.assert_allclose(stats.max_abs, 6.0)
    np.testing.assert_allclose(stats.moments.mean, 3.25, rtol=1e-4)
    np.testing.assert_allclose(stats.moments.var, 3.6875, rtol=1e-4)
    # scale = max(std(G), max|G| / g_max): std 1.9203 wins at g_max 5, the bound 6 at g_max 1.
    np.testing.assert_allclose(reward_scale(stats, 5.0), np.sqrt(3.6875), rtol=1e-4)
    np.testing.assert_allclose(reward_scale(stats, 1.0), 6.0, rtol=1e-6)


def test_reward_scale_matches_numpy_running_return_std(agent, initial):
    obs, reward, done = random_stream(jax.random.key(2), 200, N_ENVS)
    reward = reward.at[150, 0].set(60.0)  # one outlier: the max|G| bound can win
    state = jax.jit(lambda s: observe_stream(agent, s, obs, reward, done))(initial)
    returns = numpy_returns(reward, done, GAMMA)
    _, var = numpy_moments(returns.reshape(-1))
    np.testing.assert_allclose(state.return_stats.running_return, returns[-1], rtol=1e-5)
    np.testing.assert_allclose(state.return_stats.moments.var, var, rtol=1e-4)
    np.testing.assert_allclose(state.return_stats.max_abs, np.abs(returns).max(), rtol=1e-6)
    for g_max in (5.0, 0.5):
        want = max(np.sqrt(var + 1e-8), np.abs(returns).max() / g_max)
        np.testing.assert_allclose(reward_scale(state.return_stats, g_max), want, rtol=1e-4)
    assert np.sqrt(var) > np.abs(returns).max() / 5.0  # both branches of the max are exercised
    assert np.sqrt(var) < np.abs(returns).max() / 0.5


def test_observer_rejects_a_wrong_number_of_copies(agent, initial):
    state = agent.observer.init(initial, N_ENVS)
    three = Transition(
        jnp.zeros((3, OBS)), jnp.zeros((3, ACT)), jnp.zeros(3), jnp.zeros((3, OBS)), jnp.zeros(3)
    )
    with pytest.raises(ValueError, match=r"observer.init\(state, n_envs\)"):
        agent.observer.update(state, three, jnp.zeros(3))


def _no_update(agent):
    """The agent with a no-op update: the drivers' observer wiring compiles in seconds."""
    return agent._replace(update=lambda state, batch, key: (state, {}))


def _check_stream(agent_state, obs, reward, done):
    """Statistics equal numpy's over the stream [steps, n_envs, ...] that the driver stepped."""
    mean, var = numpy_moments(np.asarray(obs).reshape(-1, obs.shape[-1]))
    np.testing.assert_allclose(agent_state.obs_stats.mean, mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(agent_state.obs_stats.var, var, rtol=1e-4)
    returns = numpy_returns(reward, done, GAMMA)
    _, return_var = numpy_moments(returns.reshape(-1))
    np.testing.assert_allclose(agent_state.return_stats.running_return, returns[-1], rtol=1e-5)
    np.testing.assert_allclose(agent_state.return_stats.moments.var, return_var, rtol=1e-4)
    np.testing.assert_allclose(agent_state.return_stats.max_abs, np.abs(returns).max(), rtol=1e-5)


def _dones(steps, episode):  # every copy starts together, so time limits end all together
    return np.repeat(((np.arange(steps) + 1) % episode == 0)[:, None], N_ENVS, 1).astype(float)


def test_compiled_loop_feeds_the_observer_every_env_step(agent):
    agent, env = _no_update(agent), envs.make("jax:pendulum", 10)
    config = loop.LoopConfig(
        total_steps=48,
        utd=1.0,
        batch_size=4,
        n_envs=N_ENVS,
        warmup_steps=10,
        eval_every=48,
        eval_episodes=1,
    )
    state = jax.jit(loop.make_init(agent, env, config))(jax.random.key(0), agent.hparams)
    state, _ = jax.jit(loop.make_chunk(agent, env, config))(state, jnp.int32(0))
    steps = config.iterations_per_chunk
    # Rows are added one env step (all copies) at a time.
    rows = steps * N_ENVS
    data = jax.tree.map(
        lambda x: np.asarray(x[:rows]).reshape(steps, N_ENVS, *x.shape[1:]), state.buffer.data
    )
    _check_stream(state.agent_state, data.obs, data.reward, _dones(steps, 10))


def test_host_loop_feeds_the_observer_every_env_step():
    env = envs.make("dmc:cartpole-swingup", 3)
    agent = _no_update(make("simbav2", obs_size=env.obs_size, **TINY))
    config = loop.LoopConfig(
        total_steps=24,
        utd=1.0,
        batch_size=4,
        n_envs=N_ENVS,
        warmup_steps=4,
        eval_every=24,
        eval_episodes=1,
    )
    programs = host_loop.make_programs(agent, env, config)
    hparams = jax.tree.map(lambda x: jnp.asarray([x]), agent.hparams)
    state = programs.init(jax.random.key(0)[None], hparams)
    vector = VectorEnv(env, copy_seeds(0, N_ENVS, 0))
    state, _, _ = host_loop.train_chunk(
        programs, state, vector, vector.observe(), 0, config, host_loop.Clock()
    )
    steps, block = config.iterations_per_chunk, host_loop.block_iterations(config)
    assert 1 < block < steps  # several blocks, each with several steps

    def by_step(x):  # each block's rows are env-major [n_envs, block]: back to env-step order
        x = np.asarray(x[0, : steps * N_ENVS]).reshape(steps // block, N_ENVS, block, *x.shape[2:])
        return x.swapaxes(1, 2).reshape(steps, N_ENVS, *x.shape[3:])

    data = jax.tree.map(by_step, state.buffer.data)
    _check_stream(unstack(state.agent_state, 0), data.obs, data.reward, _dones(steps, 3))
