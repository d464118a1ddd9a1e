"""The compiled training loop: the sigma schedule against a Python reference, agent resets as a
branch taken only when due, one trace per group, and SAC actually learning the embedded Pendulum."""

import jax
import jax.numpy as jnp
import pytest
from agent_checks import (
    RESET_MARK,
    TRACES,
    CountConfig,
    CountHParams,
    make_counting_agent,
)

from rlscale import config, envs
from rlscale.agents import registry
from rlscale.training.group import group_runs, seed_runs
from rlscale.training.loop import (
    LoopConfig,
    make_chunk,
    make_init,
    reset_iterations,
    updates_after,
)
from rlscale.training.runner import run_group
from rlscale.training.train import train


@pytest.mark.parametrize(
    ("utd", "n_envs"), [(1.0, 1), (0.5, 1), (0.25, 2), (1.5, 2), (3.0, 1), (0.3, 1)]
)
def test_update_schedule_matches_python_reference(utd, n_envs):
    env = envs.make("jax:pendulum")
    agent = make_counting_agent(CountConfig(env.obs_size, env.action_size))
    loop = LoopConfig(
        total_steps=120,
        utd=utd,
        batch_size=4,
        n_envs=n_envs,
        warmup_steps=10,
        eval_every=40,
        eval_episodes=1,
    )
    init = jax.jit(jax.vmap(make_init(agent, env, loop)))
    chunk = jax.jit(jax.vmap(make_chunk(agent, env, loop), in_axes=(0, None)))
    state = init(jax.random.split(jax.random.key(0), 2), CountHParams(jnp.ones(2)))
    for index in range(loop.n_chunks):
        state, _ = chunk(state, jnp.int32(index * loop.iterations_per_chunk))
        expected = updates_after(loop, (index + 1) * loop.iterations_per_chunk)
        assert state.agent_state.count.tolist() == [expected, expected]
    # sigma = updates per env transition, after the warm-up transitions.
    assert abs(int(state.agent_state.count[0]) - utd * (120 - 10)) <= max(1, n_envs * utd)


@pytest.mark.parametrize(("utd", "n_envs"), [(1.0, 1), (0.75, 2), (3.0, 1), (0.3, 1)])
def test_reset_iterations_are_the_first_to_reach_each_count(utd, n_envs):
    loop = LoopConfig(total_steps=600, utd=utd, batch_size=4, n_envs=n_envs, warmup_steps=10)
    counts = (1, 5, 7, 30, 31)
    reached = [updates_after(loop, t + 1) for t in reset_iterations(loop, counts)]
    before = [updates_after(loop, t) for t in reset_iterations(loop, counts)]
    assert all(b < k <= r for b, k, r in zip(before, counts, reached, strict=True)), (
        before,
        reached,
    )


def test_resets_branch_only_when_due_and_spare_diverged_runs():
    """Regression: BRO decided its reset inside `update` from each run's counter, a select under
    vmap, so every update of a vmapped group ran a full re-init. The driver now branches on the
    unbatched iteration: the reset runs once per run (the callback counts executions), at the
    first iteration whose updates reach the count (1.5 per iteration: 5 -> after update 6), and
    leaves the diverged run as it froze."""
    env, calls = envs.make("jax:pendulum"), []
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
    state = jax.jit(jax.vmap(make_init(agent, env, loop)))(
        jax.random.split(jax.random.key(0), 3), CountHParams(jnp.ones(3))
    )
    state = state._replace(diverged=jnp.array([False, False, True]))
    chunk = jax.jit(jax.vmap(make_chunk(agent, env, loop), in_axes=(0, None)))
    state, _ = chunk(state, jnp.int32(0))
    assert [int(c) for c in calls] == [6, 6, 0]  # the diverged run stopped counting at 0
    total = updates_after(loop, loop.iterations_per_chunk)
    assert state.agent_state.count.tolist() == [total + RESET_MARK] * 2 + [0]


def test_one_trace_per_group_and_no_retrace_across_chunks(monkeypatch):
    monkeypatch.setitem(
        registry.AGENTS, "count", registry.AgentSpec(CountConfig, CountHParams, make_counting_agent)
    )
    run = config.resolve({"steps": 60, "eval_every": 20, "warmup_steps": 4, "batch_size": 4})
    run = {
        **{k: v for k, v in run.items() if k in config.LOOP_KEYS},
        "agent": "count",
        "learning_rate": 0.1,
    }
    (group,) = group_runs(seed_runs(run, 3))
    TRACES.clear()
    seen = []
    result = run_group(group, progress=False, on_chunk=lambda i: seen.append(len(TRACES)))
    assert len(seen) == 3 and seen[0] == seen[-1] > 0  # traced while compiling, never again
    rows = next(iter(result.frames.values()))
    assert sorted(rows.env_steps.unique().tolist()) == [20, 40, 60]


def test_sac_learns_pendulum():
    """Measured (2 seeds, seed 0): eval return -1330/-1660 at 1k steps, about -90 at 6k steps;
    a random policy gets about -1200, one that never learns stays below -900."""
    run = config.resolve(
        {
            "steps": 6000,
            "eval_every": 1000,
            "warmup_steps": 500,
            "batch_size": 64,
            "critic_width": 64,
            "actor_width": 64,
            "learning_rate": 1e-3,
        }
    )
    frame, result = train(run, seeds=2, progress=False)
    returns = frame[frame.metric == "eval/return"].groupby("env_steps")["value"].mean()
    assert returns.loc[1000] < -900, returns  # before learning: the task is not trivially easy
    assert returns.loc[6000] > -400, returns
    assert result.flops_per_update > 0
