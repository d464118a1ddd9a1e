"""The agent interface: a few pure functions over pytrees (the optax/brax "pair of functions"
idiom).

Static config (anything that sets array shapes: widths, depth, number of critics, loss type) is a
frozen dataclass fixed when the agent is made. Scalar hyperparameters (learning rate, gamma, tau,
entropy target) are array leaves of a NamedTuple stored inside the agent state, so `jax.vmap` over
states sweeps them inside one compiled program.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from rlscale.agents.nap import NaPOptimizer, project
from rlscale.types import Metrics, Params, PRNGKey, Transition

AgentState = Any
HParams = Any


class Observer(NamedTuple):
    """A hook for agents that keep statistics of the stream of env transitions (SimbaV2's
    observation RSNorm and reward scaling). Both training drivers call `init` once, right after
    `Agent.init`, then `update` once per env step with that step's transitions of all env copies,
    warm-up included, before the updates that step makes due.

    init: (state, n_envs) -> state, sized for `n_envs` env copies.
    update: (state, transitions [n_envs, ...], done [n_envs]) -> state; done = terminated or
        truncated, of the same transitions.
    """

    init: Callable[[AgentState, int], AgentState]
    update: Callable[[AgentState, Transition, jax.Array], AgentState]


class Resets(NamedTuple):
    """Full re-initialisations (BRO), scheduled in the unit their source uses; the drivers convert
    them for each run's σ, env copies and warm-up (`rlscale.training.loop.agent_reset_iterations`)
    and apply them, not `update`: they know from the unbatched loop counter which iteration is due,
    so a vmapped group branches to `apply` only then. Deciding inside `update` from each run's own
    counter made the branch a select under vmap, and every update paid for a full init.

    at_updates: reset once the update count reaches each of these (at the end of that env step's
        updates, so up to sigma * n_envs - 1 updates later).
    apply: (state, key) -> state re-initialised, keeping what must survive a reset (update
        counters, hyperparameters, stream statistics).
    every_updates: also reset after every this many updates (P2's bro_minimal: 2.5M); 0 = never.
    at_env_steps: σ -> the env steps after which to reset (BRO's own schedule depends on σ).
    """

    at_updates: tuple[int, ...]
    apply: Callable[[AgentState, PRNGKey], AgentState]
    every_updates: int = 0
    at_env_steps: Callable[[float], tuple[int, ...]] | None = None


class Agent(NamedTuple):
    """init(key, hparams=None) -> state; act(params, obs, key, deterministic) -> action in [-1, 1];
    update(state, batch, key) -> (state, metrics). `state.params` is what `act` needs.

    hparams: the default hyperparameters (a NamedTuple of floats) that `init` uses when given none.
    config: the static config the agent was made from.
    critic_param_count: state -> parameters of every critic together, the N of the scaling laws
        (P2 counts both critics of BRO's pair: 2,286,792 at width 512 on h1).
    observer: None, or the per-env-step hook (`Observer`) of an agent with stream statistics.
    resets: None, or the scheduled full re-initialisations (`Resets`) the drivers apply.
    """

    init: Callable[..., AgentState]
    act: Callable[[Params, jax.Array, PRNGKey, bool], jax.Array]
    update: Callable[[AgentState, Transition, PRNGKey], tuple[AgentState, Metrics]]
    hparams: HParams
    config: Any
    critic_param_count: Callable[[AgentState], int]
    observer: Observer | None = None
    resets: Resets | None = None

    def hparams_batch(self, n: int, **values: Any) -> HParams:
        """`n` runs' hyperparameters for `jax.vmap(init)`: the defaults, with the fields named in
        `values` set per run (`agent.hparams_batch(4, learning_rate=[1e-4, 3e-4, 1e-3, 3e-3])`).

        Returns:
            The hparams NamedTuple with every leaf a float32 array of shape [n].
        """
        return stack_hparams(self.hparams, n, **values)


def stack_hparams(hparams: HParams, n: int, **values: Any) -> HParams:
    """`hparams` broadcast to `n` runs, with the named fields given one value per run."""
    unknown = sorted(set(values) - set(hparams._fields))
    if unknown:
        raise ValueError(f"unknown hyperparameters {unknown}; valid: {list(hparams._fields)}")
    columns = {}
    for name, default in hparams._asdict().items():
        column = jnp.asarray(values.get(name, default), jnp.float32)
        if column.ndim == 0:
            column = jnp.full((n,), column)
        if column.shape != (n,):
            raise ValueError(f"{name}: expected {n} values (one per run), got shape {column.shape}")
        columns[name] = column
    return type(hparams)(**columns)


def adam(b1: float = 0.9) -> optax.GradientTransformation:
    """Adam whose learning rate is a state leaf, set from the hyperparameters at every step."""
    return optax.inject_hyperparams(optax.adam)(learning_rate=0.0, b1=b1)


def apply_gradients(
    optimizer: optax.GradientTransformation,
    opt_state: optax.OptState,
    params: Params,
    grads: Params,
    learning_rate: jax.Array,
) -> tuple[Params, optax.OptState]:
    """One optimiser step with `learning_rate` written into the injected hyperparameters first,
    so the hyperparameter NamedTuple stays the single source of truth (and may be a schedule).
    A `NaPOptimizer` steps its inner optimiser, then projects the kernels back onto their norms."""
    if isinstance(optimizer, NaPOptimizer):
        params, inner = apply_gradients(
            optimizer.inner, opt_state.inner, params, grads, learning_rate
        )
        return project(params, opt_state.norms), opt_state._replace(inner=inner)
    opt_state = opt_state._replace(
        hyperparams={**opt_state.hyperparams, "learning_rate": learning_rate}
    )
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def count_params(params: Params) -> int:
    return int(sum(x.size for x in jax.tree.leaves(params)))


def adamw(b1: float = 0.9, weight_decay: float = 1e-4) -> optax.GradientTransformation:
    """AdamW with an injected learning rate (BRO uses optax.adamw defaults, weight decay 1e-4)."""
    injected = optax.inject_hyperparams(optax.adamw)
    return injected(learning_rate=0.0, b1=b1, weight_decay=weight_decay)
