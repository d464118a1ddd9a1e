"""The compiled driver: one group of runs as ONE program (vmap over runs, lax.scan inside), with a
host loop over chunks for logging only. Groups on host envs (dm_control, Gymnasium) go to
`rlscale.training.host_loop`, the other driver; what both share lives in `records`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from rlscale import envs
from rlscale.training import checkpoint, records
from rlscale.training.checkpoint import GroupCheckpoints
from rlscale.training.group import Group
from rlscale.training.host_loop import run_host_group
from rlscale.training.loop import (
    LoopConfig,
    RunnerState,
    make_chunk,
    make_init,
    reset_env_steps,
    updates_after,
)
from rlscale.training.records import GroupResult


def build(group: Group):
    """The group's env, agent, and its compiled (init, chunk) programs, uncompiled yet."""
    env, agent = group.env_and_agent()
    init = jax.jit(jax.vmap(make_init(agent, env, group.loop)))
    chunk = jax.jit(
        jax.vmap(make_chunk(agent, env, group.loop), in_axes=(0, None, None)), donate_argnums=0
    )
    return env, agent, init, chunk


def run_group(
    group: Group,
    progress: bool = True,
    on_chunk: Callable[[int], None] | None = None,
    checkpoints: GroupCheckpoints | None = None,
) -> GroupResult:
    """Train every run of `group` in one compiled program and return long-format metrics.

    Args:
        group: runs sharing a static signature. progress: show a progress bar.
        on_chunk: called with the segment index after each compiled segment (used by tests and
            executors).
        checkpoints: where to resume from and checkpoint to (None: neither).
    """
    if envs.is_host(group.static["env"]):
        if checkpoints is not None:
            print("host-env groups are not checkpointed: a killed one restarts from step 0")
        return run_host_group(group, progress, on_chunk)
    loop = group.loop
    env, agent, init, chunk = build(group)
    keys, hparams = records.initial_inputs(group, agent)
    start = time.perf_counter()
    state = init(keys, hparams)
    compiled = chunk.lower(state, jnp.int32(0), jnp.bool_(True)).compile()
    compile_seconds = time.perf_counter() - start
    extra = records.static_metrics(agent, state.agent_state, env, loop.batch_size)
    resets = reset_env_steps(loop, agent) if agent.resets else None
    state, rows, first, wall = _resume(state, checkpoints, loop)
    bar = records.progress_bar(group, progress)
    bar.update(first * loop.segment_steps * len(group.runs))
    start, saved = time.perf_counter() - wall, time.perf_counter()
    for index in range(first, loop.n_chunks * loop.segments_per_chunk):
        evaluate_now = (index + 1) % loop.segments_per_chunk == 0
        iteration = jnp.int32(index * loop.iterations_per_segment)
        state, metrics = compiled(state, iteration, jnp.bool_(evaluate_now))
        iterations = (index + 1) * loop.iterations_per_segment
        wall = time.perf_counter() - start
        env_steps, updates = iterations * loop.n_envs, updates_after(loop, iterations)
        if evaluate_now:
            metrics = jax.device_get(metrics)
            rows += records.rows(group, metrics, env_steps, updates, wall, extra, resets)
            bar.set_postfix(eval_return=f"{np.nanmean(metrics['eval/return']):.1f}")
        bar.update(loop.segment_steps * len(group.runs))
        since = time.perf_counter() - saved
        if checkpoints and checkpoints.due(env_steps, loop.total_steps, since):
            checkpoints.save(env_steps, iterations, state, rows, wall)
            saved = time.perf_counter()
        if on_chunk is not None:
            on_chunk(index)
    bar.close()
    seconds = time.perf_counter() - start
    resumed = first * loop.segment_steps
    return records.result(group, rows, compile_seconds, seconds, extra, None, resets or (), resumed)


def _resume(state: RunnerState, checkpoints: GroupCheckpoints | None, loop: LoopConfig):
    """(state, rows so far, first segment to run, wall seconds so far): from the newest sound
    checkpoint if there is one, else from `state` at step 0."""
    restored = checkpoints.restore(state, loop.iterations_per_segment) if checkpoints else None
    if restored is None:
        return state, [], 0, 0.0
    first = restored.iterations // loop.iterations_per_segment
    return checkpoint.like(state, restored.state), restored.rows, first, restored.wall
