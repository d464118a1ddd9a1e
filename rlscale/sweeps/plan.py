"""Memory planning: a group whose runs would not fit a device together is split into parts that do.

Runs and groups themselves are defined in `rlscale.training.group`.
"""

from __future__ import annotations

from rlscale import envs
from rlscale.config import ConfigError
from rlscale.training.group import Group
from rlscale.training.sharding import spans_devices

# The static keys that size a run's state, named when one run does not fit the budget.
SIZE_KEYS = ("critic_width", "critic_depth", "actor_width", "n_critics", "batch_size")


def run_bytes(group: Group) -> int:
    """Device bytes one run of `group` holds: its whole runner state (replay buffer, parameters,
    target and optimizer state), measured by abstract evaluation, so nothing is allocated."""
    import jax  # local: planning without a memory budget needs no tracing

    from rlscale import envs
    from rlscale.training import host_loop, loop

    make_init = host_loop.make_init if envs.is_host(group.static["env"]) else loop.make_init
    env, agent = group.env_and_agent()
    state = jax.eval_shape(make_init(agent, env, group.loop), jax.random.key(0), agent.hparams)
    return sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree.leaves(state))


def _accelerators() -> int:
    import jax

    found = jax.devices()
    return len(found) if found[0].platform != "cpu" else 1


def split_groups(
    groups: list[Group], budget_bytes: float, headroom: float = 2.0, devices: int | None = None
) -> list[Group]:
    """Split each group whose runs would not fit `budget_bytes` (one device's) into near-equal
    parts. With several `devices` (default: the local accelerators; 1 on a CPU, whose devices
    share its memory), a part with a run for each is split over all of them
    (`rlscale.training.sharding`), so one device holds only its share: ceil(runs / devices).

    `headroom` covers XLA temporaries beside the state (sampled batches, activations, gradients).

    Raises:
        ConfigError: when a single run does not fit (it is the smallest unit there is), naming the
            group's static config, the bytes one run needs and the budget.
    """
    devices = _accelerators() if devices is None else devices
    out = []
    for group in groups:
        per_run = run_bytes(group) * headroom
        if per_run > budget_bytes:
            raise ConfigError(_too_large(group, per_run, budget_bytes, headroom))
        fit = max(1, int(budget_bytes // per_run))  # runs one device holds
        sharded = devices if not envs.is_host(group.static["env"]) else 1
        sizes = part_sizes(len(group.runs), fit, sharded)
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        out += [Group(group.runs[a : a + n]) for a, n in zip(starts, sizes, strict=True)]
    return out


def part_sizes(n_runs: int, fit: int, devices: int = 1) -> list[int]:
    """Near-equal part sizes (at most two distinct vmap sizes) for `n_runs` runs, one device
    holding at most `fit`: a part spanning the devices holds ceil(size / devices) on each, any
    other part all of its runs on one. Falls back to one-device parts where a split would leave
    a part too large for one device but with too few runs to span them."""
    spans = spans_devices(n_runs, devices)
    cap = fit * devices if spans else fit
    parts = -(-n_runs // cap)
    size = -(-n_runs // parts)
    sizes = [min(size, n_runs - i) for i in range(0, n_runs, size)]
    if spans and not all(s <= fit or spans_devices(s, devices) for s in sizes):
        return part_sizes(n_runs, fit, 1)
    return sizes


def _too_large(group: Group, per_run: float, budget_bytes: float, headroom: float) -> str:
    static = group.static
    capacity = static["buffer_size"] or static["steps"]
    shown = " ".join(f"{k}={static[k]}" for k in SIZE_KEYS if k in static)
    return (
        f"one run of {static['agent']} on {static['env']} ({shown}, replay capacity "
        f"{capacity} transitions; runs {', '.join(r.run_id for r in group.runs[:3])}"
        f"{', ...' if len(group.runs) > 3 else ''}) needs {per_run / 2**30:.3g} GiB "
        f"({per_run:.0f} bytes: its state x {headroom:g} headroom), over the memory budget of "
        f"{budget_bytes / 2**30:.3g} GiB ({budget_bytes:.0f} bytes): raise --memory-gb, or "
        "shrink the run (critic_width, buffer_size, steps)"
    )
