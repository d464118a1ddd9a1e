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
from rlscale.training import precision, records, sharding
from rlscale.training.group import Group
from rlscale.training.host_loop import run_host_group
from rlscale.training.loop import make_chunk, make_init, reset_env_steps, updates_after
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
        precision.scoped(jax.vmap(make_chunk(agent, env, group.loop), in_axes=(0, None)), level),
        donate_argnums=0,
        **options["chunk"],
    )
    return env, agent, init, chunk


def run_group(
    group: Group,
    progress: bool = True,
    on_chunk: Callable[[int], None] | None = None,
    on_rows: Callable[[list[dict]], None] | None = None,
) -> GroupResult:
    """Train every run of `group` in one compiled program and return long-format metrics.

    Args:
        group: runs sharing a static signature. progress: show a progress bar.
        on_chunk: called with the chunk index after each chunk (used by tests and executors).
        on_rows: called with each chunk's new rows, on the host (the logging sinks, `loggers`).
    """
    precision.set_deterministic(group.static["deterministic"])
    if envs.is_host(group.static["env"]):  # its programs trace inside, under this precision
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
    compiled = chunk.lower(state, jnp.int32(0)).compile()
    compile_seconds = time.perf_counter() - start
    extra = records.static_metrics(agent, state.agent_state, env, loop.batch_size)
    resets = reset_env_steps(loop, agent) if agent.resets else None
    rows: list[dict] = []
    bar = records.progress_bar(group, progress)
    start = time.perf_counter()
    for index in range(loop.n_chunks):
        state, metrics = compiled(state, jnp.int32(index * loop.iterations_per_chunk))
        metrics = jax.device_get(metrics) if runs is None else runs.unpad(metrics)
        iterations = (index + 1) * loop.iterations_per_chunk
        wall = time.perf_counter() - start
        env_steps, updates = iterations * loop.n_envs, updates_after(loop, iterations)
        point = records.rows(group, metrics, env_steps, updates, wall, extra, resets)
        rows += point
        if on_rows is not None:
            on_rows(point)
        bar.update(loop.eval_every * len(group.runs))
        bar.set_postfix(eval_return=f"{np.nanmean(metrics['eval/return']):.1f}")
        if on_chunk is not None:
            on_chunk(index)
    bar.close()
    seconds = time.perf_counter() - start
    return records.result(group, rows, compile_seconds, seconds, extra, None, resets or ())
