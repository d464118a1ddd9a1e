"""Memory planning: a group whose runs would not fit a device together is split into parts that do.

Runs and groups themselves are defined in `rlscale.training.group`.
"""

from __future__ import annotations

from rlscale.training.group import Group


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
    A single run over budget stays alone: it is the smallest unit there is.
    """
    out = []
    for group in groups:
        per_run = run_bytes(group) * headroom
        fit = max(1, int(budget_bytes // per_run))
        parts = -(-len(group.runs) // fit)
        size = -(-len(group.runs) // parts)  # balanced: at most two distinct vmap sizes
        out += [Group(group.runs[i : i + size]) for i in range(0, len(group.runs), size)]
    return out
