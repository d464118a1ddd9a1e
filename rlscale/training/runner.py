"""Run one group of runs as ONE compiled program: vmap over runs, lax.scan inside, host loop
over chunks for logging only. The single place where training calls `jax.jit`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from rlscale import agents, envs
from rlscale.results import RUN_COLUMNS
from rlscale.sweeps.plan import Group
from rlscale.training.flops import update_flops
from rlscale.training.loop import make_chunk, make_init, updates_after


@dataclasses.dataclass
class GroupResult:
    frames: dict[str, pd.DataFrame]  # run_id -> long-format metrics
    compile_seconds: float
    train_seconds: float  # wall time of the chunks, compile excluded
    flops_per_update: float
    critic_params: int
    timings: dict[str, float] | None = None  # host envs: wall seconds in env/act/update/eval


def static_metrics(agent: agents.Agent, agent_state, env, batch_size: int) -> dict[str, float]:
    """Per-run constants logged on every row: FLOPs of one update and the critic size N, read
    from the first run's state (every run of a group has the same shapes)."""
    one = jax.tree.map(lambda x: x[0], agent_state)
    return {
        "compute/flops_per_update": update_flops(
            agent, one, env.obs_size, env.action_size, batch_size
        ),
        "model/critic_params": float(agent.critic_param_count(one)),
    }


def progress_bar(group: Group, progress: bool) -> tqdm:
    return tqdm(
        total=group.loop.total_steps * len(group.runs),
        unit="step",
        unit_scale=True,
        disable=not progress,
        desc=f"{group.static['env']} utd={group.loop.utd} x{len(group.runs)}",
    )


def result(
    group: Group,
    rows: list[dict],
    compile_seconds: float,
    train_seconds: float,
    extra: dict[str, float],
    timings: dict[str, float] | None = None,
) -> GroupResult:
    """The rows split per run, with the group's timings and constants."""
    frame = pd.DataFrame(rows)
    frames = {
        run.run_id: frame[frame.run_id == run.run_id].reset_index(drop=True) for run in group.runs
    }
    return GroupResult(
        frames,
        compile_seconds,
        train_seconds,
        extra["compute/flops_per_update"],
        int(extra["model/critic_params"]),
        timings,
    )


def build(group: Group):
    """The group's env, agent, and its compiled (init, chunk) programs, uncompiled yet."""
    env, agent = group.env_and_agent()
    init = jax.jit(jax.vmap(make_init(agent, env, group.loop)))
    chunk = jax.jit(
        jax.vmap(make_chunk(agent, env, group.loop), in_axes=(0, None)), donate_argnums=0
    )
    return env, agent, init, chunk


def initial_inputs(group: Group, agent: agents.Agent):
    """Stacked per-run PRNG keys and hyperparameters (leading axis = run)."""
    keys = jnp.stack([jax.random.key(run.config["seed"]) for run in group.runs])
    hparams = [agent.hparams._replace(**run.hparams) for run in group.runs]
    stacked = jax.tree.map(lambda *xs: jnp.asarray(xs, jnp.float32), *hparams)
    return keys, stacked


def _rows(group: Group, metrics: dict, env_steps: int, updates: int, wall: float, extra: dict):
    rows = []
    for i, run in enumerate(group.runs):
        ident = {k: (run.run_id if k == "run_id" else run.config.get(k)) for k in RUN_COLUMNS}
        point = {"env_steps": env_steps, "updates": updates, "wall_time": wall}
        values = {name: float(np.asarray(v)[i]) for name, v in metrics.items()}
        values.update(extra)
        values["compute/flops"] = updates * extra["compute/flops_per_update"]
        for name, value in values.items():
            if name == "train/return" and not math.isfinite(value):
                continue  # no training episode ended in this chunk
            rows.append({**ident, **point, "metric": name, "value": value})
    return rows


def run_group(
    group: Group, progress: bool = True, on_chunk: Callable[[int], None] | None = None
) -> GroupResult:
    """Train every run of `group` in one compiled program and return long-format metrics.

    Args:
        group: runs sharing a static signature. progress: show a progress bar.
        on_chunk: called with the chunk index after each chunk (used by tests and executors).
    """
    if envs.is_host(group.static["env"]):
        from rlscale.training.host_loop import run_host_group  # imports this module

        return run_host_group(group, progress, on_chunk)
    loop = group.loop
    env, agent, init, chunk = build(group)
    keys, hparams = initial_inputs(group, agent)
    start = time.perf_counter()
    state = init(keys, hparams)
    compiled = chunk.lower(state, jnp.int32(0)).compile()
    compile_seconds = time.perf_counter() - start
    extra = static_metrics(agent, state.agent_state, env, loop.batch_size)
    rows: list[dict] = []
    bar = progress_bar(group, progress)
    start = time.perf_counter()
    for index in range(loop.n_chunks):
        state, metrics = compiled(state, jnp.int32(index * loop.iterations_per_chunk))
        metrics = jax.device_get(metrics)
        iterations = (index + 1) * loop.iterations_per_chunk
        wall = time.perf_counter() - start
        rows += _rows(
            group, metrics, iterations * loop.n_envs, updates_after(loop, iterations), wall, extra
        )
        bar.update(loop.eval_every * len(group.runs))
        bar.set_postfix(eval_return=f"{np.nanmean(metrics['eval/return']):.1f}")
        if on_chunk is not None:
            on_chunk(index)
    bar.close()
    return result(group, rows, compile_seconds, time.perf_counter() - start, extra)
