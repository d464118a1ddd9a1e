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
from rlscale.training import checkpoint, precision, records, sharding
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


def build(group: Group, runs: sharding.RunSharding | None = None):
    """The group's env, agent, and its compiled (init, chunk) programs, uncompiled yet; with
    `runs`, one program split over the devices along the run axis."""
    env, agent = group.env_and_agent()
    level = group.static["matmul_precision"]
    options = runs.jit_options() if runs is not None else {"init": {}, "chunk": {}}
    init = jax.jit(
        precision.scoped(jax.vmap(make_init(agent, env, group.loop)), level), **options["init"]
    )
    chunk = jax.jit(
        precision.scoped(
            jax.vmap(make_chunk(agent, env, group.loop), in_axes=(0, None, None)), level
        ),
        donate_argnums=0,
        **options["chunk"],
    )
    return env, agent, init, chunk


def run_group(
    group: Group,
    progress: bool = True,
    on_chunk: Callable[[int], None] | None = None,
    on_rows: Callable[[list[dict]], None] | None = None,
    checkpoints: GroupCheckpoints | None = None,
) -> GroupResult:
    """Train every run of `group` in one compiled program and return long-format metrics.

    Args:
        group: runs sharing a static signature. progress: show a progress bar.
        on_chunk: called with the segment index after each compiled segment (used by tests and
            executors).
        on_rows: called with each eval point's new rows, on the host (the logging sinks).
        checkpoints: where to resume from and checkpoint to (None: neither).
    """
    precision.set_deterministic(group.static["deterministic"])
    if envs.is_host(group.static["env"]):  # its programs trace inside, under this precision
        if checkpoints is not None:
            print("host-env groups are not checkpointed: a killed one restarts from step 0")
        with jax.default_matmul_precision(group.static["matmul_precision"]):
            return run_host_group(group, progress, on_chunk, on_rows)
    loop = group.loop
    runs = sharding.for_group(len(group.runs))
    env, agent, init, chunk = build(group, runs)
    keys, hparams = records.initial_inputs(group, agent)
    if runs is not None:
        keys, hparams = runs.place((keys, hparams))
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
            metrics = jax.device_get(metrics) if runs is None else runs.unpad(metrics)
            point = records.rows(group, metrics, env_steps, updates, wall, extra, resets)
            rows += point
            if on_rows is not None:
                on_rows(point)
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
    # A group padded to the device count (training.sharding) saved only its own runs: the padded
    # rows are copies of the last run again, as when the group started.
    host = jax.tree.map(_pad_like, state, restored.state)
    return checkpoint.like(state, host), restored.rows, first, restored.wall


def _pad_like(template: jax.Array, saved: np.ndarray) -> np.ndarray:
    extra = template.shape[0] - saved.shape[0]
    return np.concatenate([saved, np.repeat(saved[-1:], extra, axis=0)]) if extra else saved
