"""What both drivers (the compiled loop and the host loop) share: the per-run inputs they start
from, the constants logged on every row, the long-format rows themselves, the progress bar and the
group's result."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from rlscale import agents
from rlscale.agents import domains
from rlscale.results import RUN_COLUMNS, check_metric_names
from rlscale.training.flops import update_flops
from rlscale.training.group import Group
from rlscale.training.loop import updates_after
from rlscale.training.progress import LineProgress, progress


@dataclasses.dataclass
class GroupResult:
    frames: dict[str, pd.DataFrame]  # run_id -> long-format metrics
    compile_seconds: float
    train_seconds: float  # wall time of the chunks, compile excluded
    flops_per_update: float
    critic_params: int
    timings: dict[str, float] | None = None  # host envs: wall seconds in env/act/update/eval
    reset_env_steps: tuple[int, ...] = ()  # env steps after which every run's agent was reset
    resumed_from_env_steps: int = 0  # the checkpoint training resumed from (0: from the start)


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


def progress_bar(group: Group, enabled: bool) -> tqdm | LineProgress:
    desc = f"{group.static['env']} utd={group.loop.utd} x{len(group.runs)}"
    return progress(group.loop.total_steps * len(group.runs), desc, enabled)


def result(
    group: Group,
    rows: list[dict],
    compile_seconds: float,
    train_seconds: float,
    extra: dict[str, float],
    timings: dict[str, float] | None = None,
    reset_steps: tuple[int, ...] = (),
    resumed_from_env_steps: int = 0,
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
        reset_steps,
        resumed_from_env_steps,
    )


RUN_LENGTH = domains.RUN_LENGTH  # lr_decay_updates: decay over the run's own number of updates


def initial_inputs(group: Group, agent: agents.Agent):
    """Stacked per-run PRNG keys and hyperparameters (leading axis = run).

    A learning-rate decay over `RUN_LENGTH` updates becomes one over the updates this run does
    (SimbaV2's schedule spans the whole run whatever its budget).
    """
    keys = jnp.stack([jax.random.key(run.config["seed"]) for run in group.runs])
    hparams = [agent.hparams._replace(**run.hparams) for run in group.runs]
    if "lr_decay_updates" in agent.hparams._fields:
        total = float(
            updates_after(group.loop, group.loop.n_chunks * group.loop.iterations_per_chunk)
        )
        hparams = [
            h._replace(lr_decay_updates=total) if h.lr_decay_updates == RUN_LENGTH else h
            for h in hparams
        ]
    stacked = jax.tree.map(lambda *xs: jnp.asarray(xs, jnp.float32), *hparams)
    return keys, stacked


def rows(
    group: Group,
    metrics: dict,
    env_steps: int,
    updates: int,
    wall: float,
    extra: dict,
    reset_steps: tuple[int, ...] | None = None,
):
    """Long-format rows of one eval point of every run: RUN_COLUMNS, the point, metric, value.

    `reset_steps` (the agent's reset env steps, if it resets) adds `run/resets`, the resets
    applied so far."""
    if reset_steps is not None:
        done = sum(step <= env_steps for step in reset_steps)
        metrics = {**metrics, "run/resets": np.full(len(group.runs), float(done))}
    check_metric_names([*metrics, *extra, "compute/flops"])
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
