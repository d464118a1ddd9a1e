"""Running statistics of the data stream as pytrees: SimbaV2's observation RSNorm and running-return
reward scaling (`dojeon-ai/SimbaV2` `scale_rl/agents/wrappers/normalization.py` and `utils.py`;
science/agents.md section 4.6). Pure functions, so they live in the agent state under jit and vmap.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

EPSILON = 1e-8  # inside the square roots of both normalisers (official `epsilon`)
PRIOR_COUNT = 1e-4  # RunningMeanStd(epsilon=1e-4): the initial pseudo-count of (mean 0, var 1)


class RunningMeanStd(NamedTuple):
    """Mean and (population) variance of everything seen so far, per feature."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array  # samples seen, plus PRIOR_COUNT


def init_running(shape: tuple[int, ...] = ()) -> RunningMeanStd:
    return RunningMeanStd(jnp.zeros(shape), jnp.ones(shape), jnp.full((), PRIOR_COUNT, jnp.float32))


def update_running(stats: RunningMeanStd, x: jax.Array) -> RunningMeanStd:
    """Merge a batch into the statistics (Chan et al.'s parallel Welford update, as `utils.py`).

    Args:
        stats: statistics of features of shape S. x: [n, *S], a batch of n new samples.
    Returns:
        The statistics of the old samples and the batch together.
    """
    n = x.shape[0]
    batch_mean, batch_var = jnp.mean(x, axis=0), jnp.var(x, axis=0)
    delta = batch_mean - stats.mean
    total = stats.count + n
    mean = stats.mean + delta * n / total
    # Sum of squared deviations of both parts about the merged mean, over the merged count.
    m2 = stats.var * stats.count + batch_var * n + jnp.square(delta) * stats.count * n / total
    return RunningMeanStd(mean, m2 / total, total)


def normalize(stats: RunningMeanStd, x: jax.Array) -> jax.Array:
    """RSNorm: (x - mean) / sqrt(var + 1e-8), broadcast over leading axes of x."""
    return (x - stats.mean) / jnp.sqrt(stats.var + EPSILON)


class ReturnStats(NamedTuple):
    """SimbaV2 `RewardNormalizer` state: the running discounted return G of each env copy, the
    running moments of G (over all copies and steps) and the running max |G|."""

    running_return: jax.Array  # G, [n_envs]
    moments: RunningMeanStd  # of G, scalar
    max_abs: jax.Array  # max |G| so far


def init_returns(n_envs: int = 1) -> ReturnStats:
    return ReturnStats(jnp.zeros(n_envs), init_running(), jnp.zeros(()))


def update_returns(
    stats: ReturnStats, reward: jax.Array, done: jax.Array, gamma: jax.Array
) -> ReturnStats:
    """One env step of every copy: G <- gamma (1 - done) G + r, then G's moments and max |G|.

    As the official wrapper, `done` (terminated or truncated) is the flag of the SAME transition
    as `reward`, so the return is cut before the last reward of an episode is added.

    Args:
        reward, done: [n_envs]. gamma: the agent's discount.
    """
    if reward.shape != stats.running_return.shape:
        raise ValueError(
            f"reward shape {reward.shape} does not match the running returns "
            f"{stats.running_return.shape}: initialise them with the number of env copies "
            "(Agent.observer.init(state, n_envs))"
        )
    running_return = gamma * (1.0 - done) * stats.running_return + reward
    moments = update_running(stats.moments, running_return)
    max_abs = jnp.maximum(stats.max_abs, jnp.max(jnp.abs(running_return)))
    return ReturnStats(running_return, moments, max_abs)


def reward_scale(stats: ReturnStats, g_max: float) -> jax.Array:
    """The divisor of rewards at update time: max(std(G), max|G| / g_max).

    The std term is the running-return normalisation; the second term bounds the scaled return
    |G| / scale by g_max, which is what lets the C51 support stay fixed at [-g_max, g_max].
    """
    return jnp.maximum(jnp.sqrt(stats.moments.var + EPSILON), stats.max_abs / g_max)
