"""The host-env driver: the same rows as the compiled driver, the sigma schedule, truncation
stored with its true successor, and (slow) SAC learning dm_control cartpole-swingup."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from agent_checks import RESET_MARK, CountConfig, CountHParams, make_counting_agent

from rlscale import config, envs
from rlscale.envs.host import VectorEnv, copy_seeds
from rlscale.training import host_loop, records
from rlscale.training.group import group_runs, seed_runs
from rlscale.training.loop import LoopConfig, reset_iterations, updates_after
from rlscale.training.runner import run_group

TINY = {
    "steps": 400,
    "eval_every": 200,
    "warmup_steps": 100,
    "batch_size": 32,
    "utd": 0.5,
    "critic_width": 32,
    "actor_width": 32,
    "eval_episodes": 2,
    "max_episode_steps": 50,
}


def tiny_group(env: str, seeds: int = 2, **overrides):
    (group,) = group_runs(seed_runs(config.resolve({**TINY, "env": env, **overrides}), seeds))
    return group


@pytest.fixture(scope="module")
def host_run():
    group = tiny_group("dmc:cartpole-swingup")
    return group, run_group(group, progress=False)


@pytest.fixture(scope="module")
def compiled_run():
    group = tiny_group("jax:pendulum")
    return group, run_group(group, progress=False)


def test_host_rows_match_the_compiled_driver_schema(host_run, compiled_run):
    (_, host), (_, compiled) = host_run, compiled_run
    assert compiled.timings is None and host.timings is not None
    for host_frame, compiled_frame in zip(
        host.frames.values(), compiled.frames.values(), strict=True
    ):
        assert list(host_frame.columns) == list(compiled_frame.columns)
        assert set(host_frame.metric) == set(compiled_frame.metric)
        points = lambda f: sorted(set(zip(f.env_steps, f.updates, f.metric, strict=True)))  # noqa: E731
        assert points(host_frame) == points(compiled_frame)
        assert np.isfinite(host_frame.value).all()


def test_host_schedule_episodes_and_timings(host_run):
    group, result = host_run
    loop = group.loop
    for frame in result.frames.values():
        by_step = frame.groupby("env_steps").updates.first()
        expected = [updates_after(loop, s // loop.n_envs) for s in by_step.index]
        assert list(by_step) == expected == [50, 150]  # sigma 0.5 after 100 warm-up steps
        episodes = frame[frame.metric == "train/episodes"].value
        assert list(episodes) == [4.0, 4.0]  # 200 steps per chunk / 50-step time limit
        assert frame[frame.metric == "run/diverged"].value.eq(0).all()
    assert set(result.timings) == {"env", "act", "update", "eval"}
    assert all(t > 0 for t in result.timings.values())
    assert sum(result.timings.values()) <= result.train_seconds


def test_seeds_are_independent_runs(host_run):
    _, result = host_run
    first, second = (f[f.metric == "eval/return"].value.to_numpy() for f in result.frames.values())
    assert not np.array_equal(first, second)


def test_block_divides_the_chunk():
    for n_envs, eval_every, expected in [(1, 200, 10), (1, 2000, 16), (4, 2000, 4), (32, 64, 1)]:
        loop = tiny_group(
            "jax:pendulum",
            1,
            n_envs=n_envs,
            eval_every=eval_every,
            steps=eval_every,
            warmup_steps=max(32, n_envs),
        ).loop
        assert host_loop.block_iterations(loop) == expected


def test_collect_stores_the_true_successor_at_truncation():
    group = tiny_group("dmc:cartpole-swingup", 1, max_episode_steps=3)
    env, agent, programs = host_loop.build(group)
    keys, hparams = records.initial_inputs(group, agent)
    state = programs.init(keys, hparams)
    vector = VectorEnv(env, copy_seeds(0, 1, 0))
    tally = np.zeros((2, 1))
    clock = host_loop.Clock()
    state, _, batch = host_loop.collect(
        programs, state, vector, vector.observe(), range(7), group.loop, clock, tally
    )
    assert batch.obs.shape == (1, 7, env.obs_size)
    assert not batch.terminated.any()  # cartpole never terminates: time limits are truncations
    assert tally[1, 0] == 2  # episodes ended at steps 3 and 6
    for t in (2, 5):  # the last step of each episode: next_obs is its successor, not a reset
        assert not np.array_equal(batch.next_obs[0, t], batch.obs[0, t + 1])
        assert np.array_equal(batch.next_obs[0, t - 1], batch.obs[0, t])
    assert state.act_key.shape == (1,)


@pytest.mark.slow
def test_sac_learns_dmc_cartpole_swingup():
    """Measured once at 10k agent steps (20k control steps): see the module's report."""
    group = tiny_group(
        "dmc:cartpole-swingup",
        1,
        steps=10_000,
        eval_every=2000,
        warmup_steps=1000,
        batch_size=128,
        critic_width=128,
        actor_width=128,
        utd=1.0,
        max_episode_steps=0,
        learning_rate=1e-3,
    )
    frame = next(iter(run_group(group, progress=False).frames.values()))
    returns = frame[frame.metric == "eval/return"].value.to_numpy()
    assert returns[-1] > 200 and returns[-1] > returns[0] + 100


def test_host_resets_where_the_compiled_loop_does():
    """The same schedule as the compiled loop's reset test (there: a reset after update 6 of
    each non-diverged run), here applied inside the update call of a collection block, [5, 10)."""
    env, calls = envs.make("dmc:cartpole-swingup", 10), []
    agent = make_counting_agent(
        CountConfig(env.obs_size, env.action_size), reset_at=(5,), on_reset=calls.append
    )
    loop = LoopConfig(
        total_steps=40,
        utd=0.75,
        batch_size=4,
        n_envs=2,
        warmup_steps=4,
        eval_every=40,
        eval_episodes=1,
    )
    assert host_loop.block_iterations(loop) == 5 and reset_iterations(loop, (5,)) == (5,)
    programs = host_loop.make_programs(agent, env, loop)
    state = programs.init(jax.random.split(jax.random.key(0), 3), CountHParams(jnp.ones(3)))
    state = state._replace(diverged=jnp.array([False, False, True]))
    vector = VectorEnv(env, copy_seeds(0, 3 * loop.n_envs, 0))
    resets = reset_iterations(loop, (5,))
    state, _, _ = host_loop.train_chunk(
        programs, state, vector, vector.observe(), 0, loop, host_loop.Clock(), resets
    )
    assert [int(c) for c in calls] == [6, 6, 0]  # the diverged run stopped counting at 0
    total = updates_after(loop, loop.iterations_per_chunk)
    assert state.agent_state.count.tolist() == [total + RESET_MARK] * 2 + [0]
