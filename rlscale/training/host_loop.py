"""The training loop for host environments (dm_control, Gymnasium): same schedule, metrics and
rows as the compiled loop in `rlscale.training.loop`, with the env stepped by Python.

Per run (all runs of a group batched together): `n_envs` env copies stepped on the host, actions
from one jitted `act` over (runs x n_envs), transitions staged on the host and pushed to the
device replay buffer every `block` iterations, then the sigma * block * n_envs updates they make
due (the `updates_after` schedule) in ONE jitted call: a `fori_loop` over guarded updates whose
trip count is an argument, so one compile serves every block. Updates therefore lag collection by
at most one block (`COLLECT_STEPS` transitions per run), the price of keeping Python off the
critical path. Wall time is split into env stepping, acting, updating and evaluation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rlscale import replay
from rlscale.agents.base import Agent
from rlscale.envs.host import HostEnv, copy_seeds, make_vector
from rlscale.training import records
from rlscale.training.group import Group
from rlscale.training.loop import (
    LoopConfig,
    agent_reset_iterations,
    guarded_update,
    reset_env_steps,
    reset_when,
    updates_after,
)
from rlscale.training.records import GroupResult
from rlscale.types import Transition

COLLECT_STEPS = 16  # target env transitions per run between two update calls (the policy lag)
TRAIN_STREAM, EVAL_STREAM = 0, 1  # seed streams of the training and evaluation env copies


class HostState(NamedTuple):
    """The device half of one run; the env copies live on the host."""

    agent_state: Any
    buffer: replay.ReplayBuffer
    key: jax.Array  # for replay sampling and updates
    act_key: jax.Array  # for exploration noise and warm-up actions
    diverged: jax.Array  # bool: a non-finite update happened; the agent is frozen since
    last_metrics: dict  # the last accepted update's metrics


def block_iterations(config: LoopConfig) -> int:
    """Iterations per update call: the largest divisor of a chunk near COLLECT_STEPS transitions."""
    target = max(1, COLLECT_STEPS // config.n_envs)
    return max(d for d in range(1, target + 1) if config.iterations_per_chunk % d == 0)


def _example(env: HostEnv) -> Transition:
    return Transition(
        jnp.zeros(env.obs_size),
        jnp.zeros(env.action_size),
        jnp.zeros(()),
        jnp.zeros(env.obs_size),
        jnp.zeros(()),
    )


def make_init(agent: Agent, env: HostEnv, config: LoopConfig):
    """(key, hparams) -> HostState for one run (the same key use as `loop.make_init`)."""

    def init(key: jax.Array, hparams: Any) -> HostState:
        key_agent, _, key_run = jax.random.split(key, 3)
        agent_state = agent.init(key_agent, hparams)
        if agent.observer is not None:
            agent_state = agent.observer.init(agent_state, config.n_envs)
        batch = replay.sample(replay.init(_example(env), 1), key, config.batch_size)
        metrics = jax.tree.map(
            jnp.zeros_like, jax.eval_shape(agent.update, agent_state, batch, key)
        )
        key_update, key_act = jax.random.split(key_run)
        return HostState(
            agent_state,
            replay.init(_example(env), config.capacity),
            key_update,
            key_act,
            jnp.zeros((), bool),
            metrics[1],
        )

    return init


def make_act(agent: Agent):
    """(params, key, obs [n, obs], warmup) -> (key, actions [n, act]); uniform in warm-up."""

    def act(params: Any, key: jax.Array, obs: jax.Array, warmup: jax.Array):
        key, key_policy, key_random = jax.random.split(key, 3)
        policy = agent.act(params, obs, key_policy, False)
        uniform = jax.random.uniform(key_random, policy.shape, minval=-1, maxval=1)
        return key, jnp.where(warmup, uniform, policy)

    return act


def make_learn(agent: Agent, config: LoopConfig):
    """(state, transitions [k, ...], done [k], n_updates, reset_after) -> state: store, let the
    agent's observer see the k = block * n_envs transitions step by step (rows are env-major, as
    `collect` stacks them), then n guarded updates, with the agent's reset after update number
    `reset_after` (never when it is -1)."""

    def observe(state: HostState, transitions: Transition, done: jax.Array) -> HostState:
        def by_step(x: jax.Array) -> jax.Array:  # [n_envs * block, ...] -> [block, n_envs, ...]
            return jnp.swapaxes(x.reshape(config.n_envs, -1, *x.shape[1:]), 0, 1)

        def step(agent_state: Any, inputs: tuple[Transition, jax.Array]) -> tuple[Any, None]:
            return agent.observer.update(agent_state, *inputs), None

        inputs = jax.tree.map(by_step, (transitions, done))
        return state._replace(agent_state=jax.lax.scan(step, state.agent_state, inputs)[0])

    def update_once(i: jax.Array, state: HostState, reset_after: jax.Array) -> HostState:
        key, key_sample, key_update = jax.random.split(state.key, 3)
        batch = replay.sample(state.buffer, key_sample, config.batch_size)
        agent_state, metrics, diverged = guarded_update(
            agent, state.agent_state, state.last_metrics, state.diverged, batch, key_update
        )
        state = state._replace(
            agent_state=agent_state, key=key, last_metrics=metrics, diverged=diverged
        )
        if agent.resets is None:
            return state
        return reset_when(agent, i + 1 == reset_after, state, jax.random.fold_in(key_update, 1))

    def learn(
        state: HostState,
        transitions: Transition,
        done: jax.Array,
        n_updates: jax.Array,
        reset_after: jax.Array,
    ) -> HostState:
        state = state._replace(buffer=replay.add(state.buffer, transitions))
        if agent.observer is not None:
            state = observe(state, transitions, done)
        return jax.lax.fori_loop(0, n_updates, lambda i, s: update_once(i, s, reset_after), state)

    return learn


def block_reset(config: LoopConfig, resets: tuple[int, ...], begin: int, block: int) -> int:
    """`learn`'s reset_after for the block of iterations [begin, begin + block): the update, counted
    from the block's first, whose iteration a reset ends (`loop.agent_reset_iterations`), else -1.
    Resets due within one block collapse into its last."""
    due = [t for t in resets if begin <= t < begin + block]
    return updates_after(config, due[-1] + 1) - updates_after(config, begin) if due else -1


class Programs(NamedTuple):
    init: Callable
    act: Callable  # training actions, batched over runs
    evaluate_act: Callable  # deterministic actions, batched over runs
    learn: Callable


def make_programs(agent: Agent, env: HostEnv, config: LoopConfig) -> Programs:
    """The jitted programs of a group of runs (vmapped over runs), not compiled yet."""
    deterministic = jax.vmap(lambda params, obs: agent.act(params, obs, jax.random.key(0), True))
    return Programs(
        jax.jit(jax.vmap(make_init(agent, env, config))),
        jax.jit(jax.vmap(make_act(agent), in_axes=(0, 0, 0, None))),
        jax.jit(deterministic),
        jax.jit(
            jax.vmap(make_learn(agent, config), in_axes=(0, 0, 0, None, None)), donate_argnums=0
        ),
    )


def build(group: Group) -> tuple[HostEnv, Agent, Programs]:
    env, agent = group.env_and_agent()
    return env, agent, make_programs(agent, env, group.loop)


class Clock:
    """Accumulated wall time per activity, for `rlscale bench`'s env-versus-update split."""

    def __init__(self):
        self.seconds = {"env": 0.0, "act": 0.0, "update": 0.0, "eval": 0.0}

    def add(self, activity: str, start: float) -> float:
        now = time.perf_counter()
        self.seconds[activity] += now - start
        return now


def collect(
    programs: Programs,
    state: HostState,
    vector,
    obs: np.ndarray,
    iterations: range,
    config: LoopConfig,
    clock: Clock,
    tally: np.ndarray,
    done: np.ndarray | None = None,
):
    """Step every run's copies over `iterations`; add finished returns and episodes to `tally`.

    Returns (state, next observations, Transition leaves [runs, len(iterations) * n_envs, ...]);
    rows are env-major within a run. `done`, if given ([runs, len(iterations) * n_envs]), receives
    each row's done flag (terminated or truncated), for the agent's observer.
    """
    runs, n_envs = tally.shape[1], config.n_envs
    parts, dones = [], []
    for t in iterations:
        start = time.perf_counter()
        act_key, actions = programs.act(
            state.agent_state.params,
            state.act_key,
            obs.reshape(runs, n_envs, -1),
            np.bool_(t < config.warmup_iterations),
        )
        state = state._replace(act_key=act_key)
        actions = np.asarray(actions).reshape(runs * n_envs, -1)
        start = clock.add("act", start)
        out, next_obs = vector.step(actions)
        clock.add("env", start)
        parts.append(Transition(obs, actions, out.reward, out.next_obs, out.terminated))
        finished = (out.terminated + out.truncated) > 0
        dones.append(finished)
        tally += np.stack([out.finished_return, finished]).reshape(2, runs, n_envs).sum(-1)
        obs = next_obs
    count = len(iterations) * n_envs
    stacked = jax.tree.map(
        lambda *xs: np.stack(xs, 1).reshape(runs, count, *xs[0].shape[1:]), *parts
    )
    if done is not None:
        done[:] = np.stack(dones, 1).reshape(runs, count)
    return state, obs, stacked


def train_chunk(
    programs: Programs,
    state: HostState,
    vector,
    obs: np.ndarray,
    index: int,
    config: LoopConfig,
    clock: Clock,
    resets: tuple[int, ...] = (),
):
    """One chunk of collection blocks, each followed by one call doing its due updates (and the
    agent reset that ends one of its iterations, `resets` being `loop.agent_reset_iterations`).

    Returns (state, observations, [2, runs] finished-episode return sums and counts).
    """
    runs = state.diverged.shape[0]
    tally = np.zeros((2, runs))
    block = block_iterations(config)
    first = index * config.iterations_per_chunk
    for begin in range(first, first + config.iterations_per_chunk, block):
        done = np.zeros((runs, block * config.n_envs), np.float32)
        state, obs, transitions = collect(
            programs, state, vector, obs, range(begin, begin + block), config, clock, tally, done
        )
        due = updates_after(config, begin + block) - updates_after(config, begin)
        start = time.perf_counter()
        reset_after = np.int32(block_reset(config, resets, begin, block))
        state = jax.block_until_ready(
            programs.learn(state, transitions, done, np.int32(due), reset_after)
        )
        clock.add("update", start)
    return state, obs, tally


def evaluate(programs: Programs, params: Any, vector, runs: int, env: HostEnv) -> np.ndarray:
    """Mean return per run of fresh deterministic episodes, one per eval copy, each to its end."""
    obs = vector.reset()
    total = np.zeros(obs.shape[0])
    alive = np.ones(obs.shape[0])
    for _ in range(env.max_episode_steps):
        actions = programs.evaluate_act(params, obs.reshape(runs, -1, env.obs_size))
        out, obs = vector.step(np.asarray(actions).reshape(obs.shape[0], -1))
        total += alive * out.reward
        alive *= 1.0 - np.maximum(out.terminated, out.truncated)
        if not alive.any():
            break
    return total.reshape(runs, -1).mean(-1)


def _compile(programs: Programs, state: HostState, env: HostEnv, config: LoopConfig, runs: int):
    """Ahead-of-time compiled (act, evaluate_act, learn) for this group's shapes."""
    params = state.agent_state.params
    obs = np.zeros((runs, config.n_envs, env.obs_size), np.float32)
    eval_obs = np.zeros((runs, config.eval_episodes, env.obs_size), np.float32)
    rows = block_iterations(config) * config.n_envs
    transitions = jax.tree.map(
        lambda x: np.zeros((runs, rows, *x.shape), np.float32), _example(env)
    )
    done = np.zeros((runs, rows), np.float32)
    return Programs(
        programs.init,
        programs.act.lower(params, state.act_key, obs, np.bool_(True)).compile(),
        programs.evaluate_act.lower(params, eval_obs).compile(),
        programs.learn.lower(state, transitions, done, np.int32(0), np.int32(-1)).compile(),
    )


def _vectors(group: Group, env: HostEnv):
    config, workers = group.loop, group.static.get("env_workers", 0)
    seeds = [run.config["seed"] for run in group.runs]
    train = [s for seed in seeds for s in copy_seeds(seed, config.n_envs, TRAIN_STREAM)]
    test = [s for seed in seeds for s in copy_seeds(seed, config.eval_episodes, EVAL_STREAM)]
    return make_vector(env, train, workers), make_vector(env, test, workers)


def run_host_group(
    group: Group,
    progress: bool = True,
    on_chunk: Callable[[int], None] | None = None,
    on_rows: Callable[[list[dict]], None] | None = None,
) -> GroupResult:
    """`runner.run_group` for host envs: the same rows, plus `timings` (seconds per activity)."""
    config, runs = group.loop, len(group.runs)
    env, agent, programs = build(group)
    train_env, eval_env = _vectors(group, env)
    keys, hparams = records.initial_inputs(group, agent)
    start = time.perf_counter()
    state = programs.init(keys, hparams)
    programs = _compile(programs, state, env, config, runs)
    compile_seconds = time.perf_counter() - start
    extra = records.static_metrics(agent, state.agent_state, env, config.batch_size)
    rows: list[dict] = []
    bar = records.progress_bar(group, progress)
    clock, obs = Clock(), train_env.observe()
    resets = agent_reset_iterations(config, agent)
    reset_steps = reset_env_steps(config, agent) if agent.resets else None
    start = time.perf_counter()
    try:
        for index in range(config.n_chunks):
            state, obs, tally = train_chunk(
                programs, state, train_env, obs, index, config, clock, resets
            )
            eval_start = time.perf_counter()
            eval_return = evaluate(programs, state.agent_state.params, eval_env, runs, env)
            clock.add("eval", eval_start)
            metrics = {
                **jax.device_get(state.last_metrics),
                "eval/return": eval_return,
                "train/return": np.where(tally[1] > 0, tally[0] / np.maximum(tally[1], 1), np.nan),
                "train/episodes": tally[1],
                "run/diverged": np.asarray(state.diverged, np.float32),
            }
            iterations = (index + 1) * config.iterations_per_chunk
            env_steps, updates = iterations * config.n_envs, updates_after(config, iterations)
            seconds = time.perf_counter() - start
            point = records.rows(group, metrics, env_steps, updates, seconds, extra, reset_steps)
            rows += point
            if on_rows is not None:
                on_rows(point)
            bar.update(config.eval_every * runs)
            bar.set_postfix(eval_return=f"{np.nanmean(eval_return):.1f}")
            if on_chunk is not None:
                on_chunk(index)
    finally:
        bar.close()
        train_env.close()
        eval_env.close()
    seconds = time.perf_counter() - start
    return records.result(
        group, rows, compile_seconds, seconds, extra, clock.seconds, reset_steps or ()
    )
