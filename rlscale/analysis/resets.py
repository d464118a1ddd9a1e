"""Dropping the post-reset dips of a seed-mean return curve before the isotonic fit (BRO resets its
networks; the dip that follows is not data efficiency). Two sources of the reset steps:

- **recorded** (rlscale's own runs): the `run/resets` metric counts the resets applied so far at
  each eval point (an eval at the reset's env step already counts it: rlscale evaluates after the
  chunk in which the reset happened), so a reset lies between the last eval with fewer resets and
  the first with more.
- **published** data (no record), model_scaling's `filter_out_resets`: resets every
  int(reset_every_updates / σ) env steps. An eval logged exactly at a reset step is ambiguous, so
  both readings are tried: every such eval pre-reset, or every such eval post-reset; the reading
  with the larger summed pre→post drop is kept (ties: post-reset). In the pre-reset reading a reset
  at the final eval has no post-reset eval and is ignored.

Either way, after each reset the evals are dropped until the seed mean is back at its last
pre-reset value (window 1); each reset is handled on its own and the drops are combined.
"""

from __future__ import annotations

import numpy as np


def _drop_until_recovered(mean: np.ndarray, keep: np.ndarray, before: int, first: int) -> float:
    """Drop evals from `first` on while below mean[before]; returns the pre→post drop."""
    level = mean[before]
    for i in range(first, len(mean)):
        if mean[i] >= level:
            break
        keep[i] = False
    return float(level - mean[first])


def reset_steps(last_step: float, utd: float, reset_every_updates: float) -> np.ndarray:
    """The env steps of the resets up to `last_step`: multiples of int(reset_every_updates / σ)."""
    period = int(reset_every_updates / utd)
    if period <= 0:
        raise ValueError(f"reset period int({reset_every_updates:g} / {utd:g}) is below 1 step")
    return period * np.arange(1, int(last_step // period) + 1, dtype=float)


def published_mask(
    steps: np.ndarray, mean: np.ndarray, utd: float, reset_every_updates: float
) -> np.ndarray:
    """Keep-mask of model_scaling's `filter_out_resets` (see the module docstring).

    Args:
        steps: increasing env steps of the evals. mean: the seed-mean return there.
        utd: σ of the run. reset_every_updates: gradient steps between resets.

    Returns:
        Boolean mask over `steps`, False for the post-reset evals that are dropped.
    """
    resets = reset_steps(float(np.max(steps)), utd, reset_every_updates) if len(steps) else []
    readings = []
    for side in ("right", "left"):  # "right": an eval at a reset step is pre-reset; "left": post
        keep, drop = np.ones(len(steps), bool), 0.0
        for step in resets:
            first = int(np.searchsorted(steps, step, side=side))  # first post-reset eval
            if first == 0 or first == len(steps):
                continue  # no eval before it, or (pre-reset reading) a reset at the final eval
            drop += _drop_until_recovered(mean, keep, first - 1, first)
        readings.append((drop, keep))
    (pre_drop, pre_keep), (post_drop, post_keep) = readings
    return pre_keep if pre_drop > post_drop else post_keep


def recorded_mask(mean: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Keep-mask from recorded reset counts (`run/resets` at each eval, aligned with `mean`)."""
    keep = np.ones(len(mean), bool)
    for first in np.flatnonzero(np.diff(np.asarray(counts, float)) > 0) + 1:
        _drop_until_recovered(mean, keep, first - 1, int(first))
    return keep


def keep_mask(
    steps: np.ndarray,
    mean: np.ndarray,
    counts: np.ndarray | None,
    utd: float,
    reset_every_updates: float | None,
) -> np.ndarray:
    """The recorded rule where the run recorded its resets, else the published rule where the
    recipe sets `reset_every_updates`, else keep everything."""
    if counts is not None:
        return recorded_mask(mean, counts)
    if reset_every_updates:
        return published_mask(steps, mean, utd, reset_every_updates)
    return np.ones(len(steps), bool)
