"""What a sweep will cost before it runs: gradient updates, XLA-counted FLOPs, device-hours.

FLOPs per update come from XLA's cost analysis of each group's lowered update (no compile, no
parameters allocated: the agent state is an `eval_shape`). Hours divide the FLOPs by a rate measured
on the target device: the FLOPs per second a finished sweep there achieved (`rlscale sweep
--dry-run --throughput DIR`), since small RL networks reach a small, shape-dependent fraction of
any device's peak. The rate covers everything that device did between compile and finish,
including env steps, so a pilot with the same env and widths gives the best estimate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rlscale import results
from rlscale.config import ConfigError
from rlscale.sweeps import store
from rlscale.sweeps.spec import Sweep
from rlscale.training.group import Group


def _update_flops(group: Group) -> tuple[float, float]:
    import jax

    from rlscale.training.flops import update_flops

    static = group.static
    env, agent = group.env_and_agent()

    def init(key):
        state = agent.init(key, agent.hparams)
        return state if agent.observer is None else agent.observer.init(state, static["n_envs"])

    state = jax.eval_shape(init, jax.random.key(0))
    flops = update_flops(agent, state, env.obs_size, env.action_size, static["batch_size"])
    return flops, float(agent.critic_param_count(state))


def costs(groups: list[Group]) -> pd.DataFrame:
    """One row per group: runs, env steps and updates per run, FLOPs per update, total FLOPs.

    σ does not change the update's program, so groups differing only in σ share one lowering.
    """
    from rlscale.training.loop import updates_after

    cache: dict[tuple, tuple[float, float]] = {}
    rows = []
    for index, group in enumerate(groups):
        key = tuple((k, v) for k, v in group.static.items() if k not in ("utd", "steps"))
        if key not in cache:
            cache[key] = _update_flops(group)
        flops, params = cache[key]
        loop = group.loop
        updates = updates_after(loop, loop.n_chunks * loop.iterations_per_chunk)
        rows.append(
            {
                "group": index,
                "agent": group.static["agent"],
                "env": group.static["env"],
                "utd": loop.utd,
                "batch_size": loop.batch_size,
                "critic_width": group.static.get("critic_width"),
                "critic_params": params,
                "runs": len(group.runs),
                "env_steps": loop.total_steps,
                "updates": updates,
                "flops_per_update": flops,
                "flops": flops * updates * len(group.runs),
            }
        )
    return pd.DataFrame(rows)


def measured_rate(root: str | Path) -> float:
    """FLOPs per second a finished sweep achieved: total FLOPs over total training wall time.

    All runs of one compiled group share its wall clock, so the wall time is counted once per
    group (the runs of a group end with the same `wall_time`).
    """
    frame = results.read(Path(root))
    flops = frame[frame["metric"] == "compute/flops"]
    if flops.empty:
        raise ValueError(f"{root}: no compute/flops metric; not a finished rlscale sweep or run")
    last = flops.sort_values("env_steps").groupby("run_id").tail(1)
    per_group = last.groupby("wall_time")["value"].sum()
    return float(per_group.sum() / np.sum(per_group.index.to_numpy(float)))


def describe(table: pd.DataFrame, rate: float | None, where: str = "") -> list[str]:
    """Totals, and device-hours at `rate` FLOP/s when one was measured."""
    total = table["flops"].sum()
    lines = [
        f"cost: {table['runs'].sum()} runs, {int((table['updates'] * table['runs']).sum()):,} "
        f"updates, {total:.3g} FLOPs (XLA count of each group's update)"
    ]
    if rate is None:
        lines.append(
            "device-hours: pass --throughput DIR (a finished sweep on the target device) "
            "or --throughput FLOPS_PER_SECOND to convert FLOPs into hours"
        )
        return lines
    hours = table["flops"] / rate / 3600
    slowest = table.loc[hours.idxmax()]
    lines.append(
        f"device-hours at the measured {rate:.3g} FLOP/s{where}: {_hours(hours.sum())} "
        f"(one device, groups back to back); largest group {_hours(hours.max())} "
        f"({slowest['env']}, σ={slowest['utd']:g}, "
        f"B={slowest['batch_size']})"
    )
    return lines


def state_bytes(group: Group) -> int:
    """Bytes of one run's checkpointed state (its runner state: replay buffer included)."""
    import jax

    from rlscale.training.loop import make_init

    env, agent = group.env_and_agent()
    state = jax.eval_shape(make_init(agent, env, group.loop), jax.random.key(0), agent.hparams)
    is_key = lambda x: jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)  # noqa: E731
    # A threefry key is stored as its two uint32 words.
    return sum(x.size * (8 if is_key(x) else x.dtype.itemsize) for x in jax.tree.leaves(state))


def checkpoint_lines(groups: list[Group], table: pd.DataFrame, rate: float | None) -> list[str]:
    """Checkpoint disk use (each run keeps its last two while it trains) and, at `rate` FLOP/s,
    the most work a kill can lose: the checkpoint interval, or for auto (checkpoint_every 0)
    CHECKPOINT_SECONDS plus one compiled segment."""
    from rlscale.training.checkpoint import CHECKPOINT_SECONDS

    disk = sum(2 * len(g.runs) * state_bytes(g) for g in groups)
    lines = [f"checkpoints: up to {disk / 2**30:.3g} GiB on disk while training (2 per run)"]
    if rate is None:
        return [*lines, "worst-case work lost per kill: pass --throughput to convert to minutes"]
    seconds = table["flops"].to_numpy() / rate  # FLOPs per group: its runs together
    worst = []
    for group, total in zip(groups, seconds, strict=True):
        loop = group.loop
        if loop.checkpoint_every:
            worst.append(total * min(loop.checkpoint_every, loop.total_steps) / loop.total_steps)
        else:
            worst.append(CHECKPOINT_SECONDS + total * loop.segment_steps / loop.total_steps)
    return [*lines, f"worst-case work lost per kill: {max(worst) / 60:.3g} min (slowest group)"]


def _hours(value: float) -> str:
    return f"{value:,.0f} h" if value >= 10 else f"{value:.2g} h"


def throughput(value: str) -> tuple[float, str]:
    """A `--throughput` value as (FLOP/s, where it was measured): a number, or a finished sweep
    directory on the target device whose achieved rate is read from its metrics."""
    try:
        return float(value), ""
    except ValueError:
        pass
    try:
        return measured_rate(value), f" by {value}"
    except (ValueError, FileNotFoundError) as error:
        raise ConfigError(f"--throughput {value}: {error}") from None


def _reset_lines(groups: list[Group]) -> dict[int, str]:
    """Group index -> "resets after env steps [...]" for the groups whose agent resets."""
    from rlscale.training.loop import reset_env_steps

    agents, lines = {}, {}
    loop_keys = {"utd", "steps", "warmup_steps", "n_envs", "eval_every", "batch_size"}
    for index, group in enumerate(groups):
        key = tuple((k, v) for k, v in group.static.items() if k not in loop_keys)
        if key not in agents:
            agents[key] = group.env_and_agent()[1]
        if agents[key].resets is not None:
            steps = reset_env_steps(group.loop, agents[key])
            lines[index] = f"  resets after env steps {list(steps)}" if steps else "  no reset due"
    return lines


def plan_lines(sweep: Sweep, groups: list[Group], root: Path) -> list[str]:
    """The dry run's listing: each group with the keys that vary (and the env steps after which
    its agent resets, if it does), each run with its state."""
    resets = _reset_lines(groups)
    configs = [run.config for run in sweep.runs]
    varying = [k for k in configs[0] if len({str(c[k]) for c in configs}) > 1]
    lines = [
        f"sweep {sweep.name}: {len(sweep.runs)} runs in {len(groups)} compiled groups -> {root}"
    ]
    for index, group in enumerate(groups):
        static = group.static
        shown = " ".join(f"{k}={static[k]}" for k in varying if k in static)
        lines.append(
            f"group {index}: {len(group.runs)} runs, {static['agent']} on "
            f"{static['env']}, {static['steps']} steps  {shown}"
        )
        if index in resets:
            lines.append(resets[index])
        for run in group.runs:
            dynamic = " ".join(f"{k}={run.config[k]}" for k in varying if k not in static)
            state = store.state(root, run.run_id) or "pending"
            lines.append(f"  {run.run_id}  {dynamic}  [{state}]")
    return lines
