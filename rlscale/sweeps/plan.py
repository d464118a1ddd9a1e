"""Memory planning: a group whose runs would not fit a device together is split into parts that do.

Runs and groups themselves are defined in `rlscale.training.group`.
"""

from __future__ import annotations

from rlscale.config import ConfigError
from rlscale.training.group import Group

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


def split_groups(groups: list[Group], budget_bytes: float, headroom: float = 2.0) -> list[Group]:
    """Split each group whose runs would not fit `budget_bytes` into near-equal parts.

    `headroom` covers XLA temporaries beside the state (sampled batches, activations, gradients).

    Raises:
        ConfigError: when a single run does not fit (it is the smallest unit there is), naming the
            group's static config, the bytes one run needs and the budget.
    """
    out = []
    for group in groups:
        per_run = run_bytes(group) * headroom
        if per_run > budget_bytes:
            raise ConfigError(_too_large(group, per_run, budget_bytes, headroom))
        fit = max(1, int(budget_bytes // per_run))
        parts = -(-len(group.runs) // fit)
        size = -(-len(group.runs) // parts)  # balanced: at most two distinct vmap sizes
        out += [Group(group.runs[i : i + size]) for i in range(0, len(group.runs), size)]
    return out


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
