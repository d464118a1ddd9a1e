"""The training loop of one run as pure functions, compiled whole by the runner.

One loop iteration steps `n_envs` env copies, stores the transitions, and does the updates that
UTD sigma makes due: sigma = gradient updates per environment transition, so sigma * n_envs per
iteration on average (fractional sigma = an update every 1/sigma transitions). A chunk is
`eval_every / n_envs` iterations; the compiled program scans one segment of it (a divisor, so
checkpoints fall between segments) and evaluates after a chunk's last segment; the host only
logs and checkpoints between segments. The iteration counter is passed unbatched, so when runs
are vmapped the update schedule, and an agent's scheduled resets, stay real branches rather than
selects over both sides.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rlscale import replay
from rlscale.agents.base import Agent
from rlscale.envs.base import EpisodeState, JaxEnv, reset_episode, step_episode
from rlscale.training.evaluate import evaluate
from rlscale.types import Metrics, Transition

AUTO_SEGMENT_STEPS = 10_000  # checkpoint_every 0: env steps a compiled segment may span at most


@dataclasses.dataclass(frozen=True)
class LoopConfig:
    """Static loop settings (they set array shapes or the compiled schedule)."""

    total_steps: int  # env steps per run
    utd: float  # sigma: gradient updates per env transition
    batch_size: int
    n_envs: int = 1  # env copies stepped together per run
    warmup_steps: int = 1000  # env steps of uniform random actions before learning starts
    eval_every: int = 2000  # env steps per chunk; one eval point per chunk
    eval_episodes: int = 5
    buffer_size: int = 0  # replay capacity in transitions; 0 means total_steps
    checkpoint_every: int = 0  # env steps between checkpoints; 0 = auto (by wall time)

    @property
    def iterations_per_chunk(self) -> int:
        return self.eval_every // self.n_envs

    @property
    def n_chunks(self) -> int:
        return self.total_steps // self.eval_every

    @property
    def segment_steps(self) -> int:
        """Env steps of the compiled program: the gcd of the eval and checkpoint intervals; auto
        (0) splits the eval interval into equal parts of <= AUTO_SEGMENT_STEPS if it can."""
        if self.checkpoint_every:
            return math.gcd(self.eval_every, self.checkpoint_every)
        least = math.ceil(self.eval_every / AUTO_SEGMENT_STEPS)
        fits = (p for p in range(least, 4 * least + 1) if self.iterations_per_chunk % p == 0)
        return self.eval_every // next(fits, 1)

    @property
    def iterations_per_segment(self) -> int:
        return self.segment_steps // self.n_envs

    @property
    def segments_per_chunk(self) -> int:
        return self.eval_every // self.segment_steps

    @property
    def warmup_iterations(self) -> int:
        return -(-self.warmup_steps // self.n_envs)

    @property
    def capacity(self) -> int:
        return self.buffer_size or self.total_steps

    @property
    def updates_per_iteration(self) -> Fraction:
        """sigma * n_envs as an exact fraction (sigma limited to 1/1000 resolution)."""
        return Fraction(self.utd).limit_denominator(1000) * self.n_envs


def updates_after(config: LoopConfig, iterations: int) -> int:
    """Reference schedule: total updates done once `iterations` loop iterations completed."""
    learning = max(0, iterations - config.warmup_iterations)
    return int(config.updates_per_iteration * learning)


def reset_iterations(config: LoopConfig, at_updates: tuple[int, ...]) -> tuple[int, ...]:
    """The loop iterations after whose updates an agent reset is applied: for each count k, the
    first iteration t with updates_after(t + 1) >= k. Static, so the drivers branch on it."""
    per_iteration = config.updates_per_iteration
    if per_iteration == 0:
        return ()
    return tuple(
        config.warmup_iterations + math.ceil(k / per_iteration) - 1 for k in at_updates if k > 0
    )


def agent_reset_iterations(config: LoopConfig, agent: Agent) -> tuple[int, ...]:
    """The iterations of this run's loop after which `agent.resets` are applied, from every unit
    the agent schedules them in: update counts, a period in updates, env steps (a function of σ).
    An env step s is reached by the iteration that collects it: ceil(s / n_envs) - 1."""
    if agent.resets is None:
        return ()
    resets, horizon = agent.resets, config.n_chunks * config.iterations_per_chunk
    counts = list(resets.at_updates)
    if resets.every_updates:
        total = updates_after(config, horizon)
        counts += range(resets.every_updates, total + 1, resets.every_updates)
    iterations = set(reset_iterations(config, tuple(counts)))
    if resets.at_env_steps is not None:
        steps = resets.at_env_steps(config.utd)
        iterations |= {math.ceil(s / config.n_envs) - 1 for s in steps if s > 0}
    return tuple(sorted(t for t in iterations if t < horizon))


def reset_env_steps(config: LoopConfig, agent: Agent) -> tuple[int, ...]:
    """The env steps collected when each of the run's resets is applied (what a run records)."""
    return tuple((t + 1) * config.n_envs for t in agent_reset_iterations(config, agent))


def reset_when(agent: Agent, due: jax.Array, state: Any, key: jax.Array) -> Any:
    """`state` (either driver's: it has `agent_state` and `diverged`) with the agent reset if
    `due`. `due` must be unbatched, so under vmap this stays a branch taken only then; a diverged
    run stays frozen as it diverged. Shared by both drivers."""

    def reset(s: Any) -> Any:
        fresh = agent.resets.apply(s.agent_state, key)
        keep = lambda f, old: jnp.where(s.diverged, old, f)  # noqa: E731
        return s._replace(agent_state=jax.tree.map(keep, fresh, s.agent_state))

    return jax.lax.cond(due, reset, lambda s: s, state)


class RunnerState(NamedTuple):
    agent_state: Any
    buffer: replay.ReplayBuffer
    episodes: EpisodeState  # leaves [n_envs, ...]
    key: jax.Array
    diverged: jax.Array  # bool: a non-finite update happened; the agent is frozen since
    last_metrics: Metrics  # the last accepted update's metrics
    train_return_sum: jax.Array  # over training episodes finished in this chunk
    train_episodes: jax.Array


def _all_finite(tree: Any) -> jax.Array:
    leaves = [
        jnp.all(jnp.isfinite(x))
        for x in jax.tree.leaves(tree)
        if jnp.issubdtype(x.dtype, jnp.inexact)
    ]
    return jnp.all(jnp.stack(leaves))


def guarded_update(
    agent: Agent,
    agent_state: Any,
    last_metrics: Metrics,
    diverged: jax.Array,
    batch: Transition,
    key: jax.Array,
) -> tuple[Any, Metrics, jax.Array]:
    """One update, frozen instead of applied if it makes anything non-finite (or the run already
    diverged). A per-run select, so vmapped siblings are untouched. Shared by both drivers.

    Returns:
        (agent_state, last_metrics, diverged) after the update.
    """
    new_agent, metrics = agent.update(agent_state, batch, key)
    accept = _all_finite((new_agent, metrics)) & ~diverged
    keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(accept, n, o), new, old)  # noqa: E731
    return keep(new_agent, agent_state), keep(metrics, last_metrics), diverged | ~accept


def make_init(agent: Agent, env: JaxEnv, config: LoopConfig):
    """(key, hparams) -> RunnerState for one run."""

    def init(key: jax.Array, hparams: Any) -> RunnerState:
        key_agent, key_env, key_run = jax.random.split(key, 3)
        agent_state = agent.init(key_agent, hparams)
        if agent.observer is not None:
            agent_state = agent.observer.init(agent_state, config.n_envs)
        episodes = jax.vmap(reset_episode, (None, 0))(env, jax.random.split(key_env, config.n_envs))
        example = Transition(
            jnp.zeros(env.obs_size),
            jnp.zeros(env.action_size),
            jnp.zeros(()),
            jnp.zeros(env.obs_size),
            jnp.zeros(()),
        )
        batch = replay.sample(replay.init(example, 1), key, config.batch_size)
        metrics = jax.tree.map(
            jnp.zeros_like, jax.eval_shape(agent.update, agent_state, batch, key)
        )
        return RunnerState(
            agent_state,
            replay.init(example, config.capacity),
            episodes,
            key_run,
            jnp.zeros((), bool),
            metrics[1],
            jnp.zeros(()),
            jnp.zeros(()),
        )

    return init


def make_chunk(agent: Agent, env: JaxEnv, config: LoopConfig):
    """(RunnerState, first_iteration, evaluate_now) -> (RunnerState, per-run metrics)."""
    per_iteration = config.updates_per_iteration
    base, remainder = int(per_iteration), per_iteration - int(per_iteration)
    step_n = jax.vmap(step_episode, (None, 0, 0, 0))
    resets = jnp.asarray(agent_reset_iterations(config, agent))

    def sampled_update(state: RunnerState, key: jax.Array) -> tuple[RunnerState, None]:
        key_sample, key_update = jax.random.split(key)
        batch = replay.sample(state.buffer, key_sample, config.batch_size)
        agent_state, metrics, diverged = guarded_update(
            agent, state.agent_state, state.last_metrics, state.diverged, batch, key_update
        )
        return state._replace(
            agent_state=agent_state, last_metrics=metrics, diverged=diverged
        ), None

    def updates(state: RunnerState, key: jax.Array, learning_iteration: jax.Array) -> RunnerState:
        key_base, key_extra = jax.random.split(key)
        if base:
            state, _ = jax.lax.scan(sampled_update, state, jax.random.split(key_base, base))
        if remainder:
            # An extra update when floor(r * (i + 1)) > floor(r * i) for the fractional part r.
            p, q = remainder.numerator, remainder.denominator
            extra = ((learning_iteration % q) * p) % q + p >= q
            state = jax.lax.cond(
                extra, lambda s: sampled_update(s, key_extra)[0], lambda s: s, state
            )
        return state

    def iteration(state: RunnerState, t: jax.Array) -> tuple[RunnerState, None]:
        key, key_act, key_random, key_reset, key_update = jax.random.split(state.key, 5)
        obs = state.episodes.obs
        policy_action = agent.act(state.agent_state.params, obs, key_act, False)
        random_action = jax.random.uniform(key_random, policy_action.shape, minval=-1, maxval=1)
        action = jnp.where(t < config.warmup_iterations, random_action, policy_action)
        episodes, out = step_n(
            env, state.episodes, action, jax.random.split(key_reset, config.n_envs)
        )
        transition = Transition(obs, action, out.reward, out.next_obs, out.terminated)
        finished = (out.terminated + out.truncated) > 0
        agent_state = state.agent_state
        if agent.observer is not None:  # stream statistics see every env step, warm-up included
            done = finished.astype(jnp.float32)
            agent_state = agent.observer.update(agent_state, transition, done)
        state = state._replace(
            agent_state=agent_state,
            buffer=replay.add(state.buffer, transition),
            episodes=episodes,
            key=key,
            train_return_sum=state.train_return_sum + jnp.sum(out.finished_return),
            train_episodes=state.train_episodes + jnp.sum(finished),
        )
        learning_iteration = t - config.warmup_iterations
        state = jax.lax.cond(
            learning_iteration >= 0,
            lambda s: updates(s, key_update, learning_iteration),
            lambda s: s,
            state,
        )
        if resets.size:  # t is unbatched
            state = reset_when(agent, jnp.isin(t, resets), state, jax.random.fold_in(key_update, 1))
        return state, None

    def point(state: RunnerState) -> tuple[RunnerState, Metrics]:
        key, key_eval = jax.random.split(state.key)
        eval_return = evaluate(agent, env, state.agent_state.params, key_eval, config.eval_episodes)
        metrics = {
            **state.last_metrics,
            "eval/return": eval_return,
            # NaN when no training episode ended in this chunk; the host drops such rows.
            "train/return": jnp.where(
                state.train_episodes > 0, state.train_return_sum / state.train_episodes, jnp.nan
            ),
            "train/episodes": state.train_episodes,
            "run/diverged": state.diverged.astype(jnp.float32),
        }
        zero = jnp.zeros(())
        return state._replace(key=key, train_return_sum=zero, train_episodes=zero), metrics

    def chunk(
        state: RunnerState, first_iteration: jax.Array, evaluate_now: jax.Array | bool = True
    ) -> tuple[RunnerState, Metrics]:
        """One segment, then the eval point if `evaluate_now` (unbatched: a real branch); the
        metrics are zeros when it does not evaluate."""
        steps = first_iteration + jnp.arange(config.iterations_per_segment)
        state, _ = jax.lax.scan(iteration, state, steps)
        shapes = jax.eval_shape(point, state)[1]
        skip = lambda s: (s, jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), shapes))  # noqa: E731
        return jax.lax.cond(evaluate_now, point, skip, state)

    return chunk
