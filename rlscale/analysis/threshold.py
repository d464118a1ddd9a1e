"""Data to reach a return threshold J, with a bootstrap over seeds (P1 §4.2–4.3; qscaled
`bootstrap_crossings`).

Per config: the seed-mean return curve is smoothed by increasing isotonic regression, and the
crossing time is the first *logged* env step at which the smoothed curve is ≥ J (no interpolation;
never reached = +inf). The same is repeated on `samples` resamplings of the seed columns.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.optimize import isotonic_regression

from rlscale.analysis import resets
from rlscale.analysis.load import CONFIG_COLUMNS, RESETS_METRIC

POINT_ESTIMATE = -1  # `sample` value of the all-seeds estimate; bootstrap samples are 0..n-1
BEST_KEYS = ["env", "utd", "critic_params", "threshold_index", "threshold", "sample"]


class Curve(NamedTuple):
    """One config's learning curves: `returns[t, s]` is seed s at `steps[t]` (NaN: no value).

    `resets[t]` is the number of resets the runs recorded by `steps[t]` (rlscale's `run/resets`,
    the max over seeds), or None where the runs recorded none (published data).
    """

    config: dict
    steps: np.ndarray
    returns: np.ndarray
    resets: np.ndarray | None = None


def make_curves(tidy: pd.DataFrame, metric: str) -> list[Curve]:
    """Group the tidy frame into one `Curve` per config for `metric`.

    Diverged runs (status "diverged") keep their last value to the end of the config's steps: they
    stay in the data as a frozen, failed run instead of silently dropping out of the seed mean.

    Args:
        tidy: frame from `load.load` (returns already normalised).
        metric: metric name, e.g. "eval/return".

    Returns:
        Curves sorted by config; empty if the metric is absent.
    """
    rows = tidy[tidy["metric"] == metric]
    recorded = _reset_counts(tidy)
    curves = []
    for key, group in rows.groupby(list(CONFIG_COLUMNS), dropna=False, sort=True):
        table = group.pivot_table(
            index="env_steps", columns="seed", values="value", aggfunc="mean", dropna=False
        ).sort_index()
        diverged = group.loc[group["status"] == "diverged", "seed"].unique()
        for seed in diverged:
            last = table[seed].last_valid_index()
            table.loc[table.index >= last, seed] = table[seed].ffill()
        counts = recorded.get(_hashable(key))
        if counts is not None:
            counts = counts.reindex(table.index).ffill().fillna(0.0).to_numpy(float)
        curves.append(
            Curve(
                dict(zip(CONFIG_COLUMNS, key, strict=True)),
                table.index.to_numpy(float),
                table.to_numpy(float),
                counts,
            )
        )
    return curves


def _reset_counts(tidy: pd.DataFrame) -> dict[tuple, pd.Series]:
    """Config key -> resets recorded by each env step (max over seeds), from `run/resets` rows."""
    rows = tidy[tidy["metric"] == RESETS_METRIC]
    return {
        _hashable(key): group.groupby("env_steps")["value"].max().sort_index()
        for key, group in rows.groupby(list(CONFIG_COLUMNS), dropna=False, sort=True)
    }


def _hashable(key: tuple) -> tuple:
    """A config key usable in a dict: NaN (unknown width, N) as None, since NaN != NaN."""
    return tuple(None if isinstance(v, float) and np.isnan(v) else v for v in key)


def isotonic(values: np.ndarray) -> np.ndarray:
    """Increasing least-squares fit at the logged points (= sklearn's IsotonicRegression)."""
    return isotonic_regression(values, increasing=True).x


def first_crossing(steps: np.ndarray, smoothed: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """First logged step with `smoothed >= J` for each J; +inf where never reached."""
    above = smoothed[None, :] >= np.asarray(thresholds, float)[:, None]
    first = steps[np.argmax(above, axis=1)]
    return np.where(above.any(axis=1), first, np.inf)


def reset_mask(
    steps: np.ndarray, mean: np.ndarray, utd: float, reset_every_updates: float
) -> np.ndarray:
    """Mask dropping post-reset dips of published data (model_scaling `filter_out_resets`; see
    `resets.published_mask`)."""
    return resets.published_mask(steps, mean, utd, reset_every_updates)


def seed_mean(
    curve: Curve, pick: np.ndarray | None = None, reset_every_updates: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(steps, mean) of the seeds `pick` (None: all), without all-NaN steps and post-reset dips.

    The dips are those of the runs' recorded resets where they recorded them, else (published
    data) of a reset every int(reset_every_updates / σ) env steps; see `resets`.
    """
    returns = curve.returns if pick is None else curve.returns[:, pick]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN steps: dropped just below
        mean = np.nanmean(returns, axis=1)
    valid = np.isfinite(mean)
    steps, mean = curve.steps[valid], mean[valid]
    counts = None if curve.resets is None else curve.resets[valid]
    keep = resets.keep_mask(steps, mean, counts, curve.config["utd"], reset_every_updates)
    return steps[keep], mean[keep]


def curve_crossings(
    curve: Curve,
    thresholds: np.ndarray,
    samples: int,
    rng: np.random.Generator,
    reset_every_updates: float | None = None,
) -> np.ndarray:
    """Crossing times of the seed mean and of `samples` seed-bootstrap means.

    Returns:
        (samples + 1, n_thresholds): row 0 is the all-seeds estimate, then the bootstrap samples.
    """
    n_seeds = curve.returns.shape[1]
    picks = [np.arange(n_seeds)] + [rng.integers(0, n_seeds, n_seeds) for _ in range(samples)]
    out = np.full((len(picks), len(thresholds)), np.inf)
    for row, pick in enumerate(picks):
        steps, mean = seed_mean(curve, pick, reset_every_updates)
        if len(steps):
            out[row] = first_crossing(steps, isotonic(mean), thresholds)
    return out


def crossing_frame(
    curves: Sequence[Curve],
    thresholds_for: Callable[[str], np.ndarray],
    samples: int = 100,
    seed: int = 42,
    reset_every_updates: float | None = None,
) -> pd.DataFrame:
    """Long frame of crossing times: one row per config x sample x threshold.

    Args:
        curves: from `make_curves`.
        thresholds_for: env -> thresholds J (0–1000 scale).
        samples: bootstrap resamplings of the seeds (100 in P1: "seems enough for std to converge").
        seed: seed of the bootstrap generator.
        reset_every_updates: BRO reset period (gradient steps) for curves without recorded
            resets (published data; see `resets`), or None.

    Returns:
        Columns CONFIG_COLUMNS + n_seeds, sample (POINT_ESTIMATE or 0..samples-1), threshold_index,
        threshold, time (env steps, +inf if never reached).
    """
    rng = np.random.default_rng(seed)
    frames = []
    for curve in curves:
        thresholds = thresholds_for(curve.config["env"])
        times = curve_crossings(curve, thresholds, samples, rng, reset_every_updates)
        sample_ids = np.repeat(np.arange(-1, samples), len(thresholds))
        frames.append(
            pd.DataFrame(
                {
                    **{k: [v] * times.size for k, v in curve.config.items()},
                    "n_seeds": curve.returns.shape[1],
                    "sample": sample_ids,
                    "threshold_index": np.tile(np.arange(len(thresholds)), samples + 1),
                    "threshold": np.tile(thresholds, samples + 1),
                    "time": times.reshape(-1),
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            columns=[*CONFIG_COLUMNS, "n_seeds", "sample", "threshold_index", "threshold", "time"]
        )
    return pd.concat(frames, ignore_index=True)


def summarize(crossings: pd.DataFrame, ci: float = 0.95) -> pd.DataFrame:
    """Per config x threshold: the all-seeds time and bootstrap mean, std and percentile CI.

    Bootstrap statistics treat never-reached samples as missing (like qscaled's nanstd) and report
    the fraction that reached J.
    """
    keys = [*CONFIG_COLUMNS, "threshold_index", "threshold"]
    point = crossings.loc[crossings["sample"] == POINT_ESTIMATE, [*keys, "time"]]
    boot = crossings[crossings["sample"] != POINT_ESTIMATE]
    if boot.empty:
        return point.assign(
            time_boot_mean=np.nan,
            time_boot_std=np.nan,
            time_ci_low=np.nan,
            time_ci_high=np.nan,
            reached_fraction=np.nan,
        )
    finite = boot["time"].where(np.isfinite(boot["time"]))
    tail = (1.0 - ci) / 2.0
    grouped = finite.groupby([boot[k] for k in keys], dropna=False)
    stats = pd.DataFrame(
        {
            "time_boot_mean": grouped.mean(),
            "time_boot_std": grouped.std(ddof=0),
            "time_ci_low": grouped.quantile(tail),
            "time_ci_high": grouped.quantile(1.0 - tail),
            "reached_fraction": grouped.count() / grouped.size(),
        }
    ).reset_index()
    # merge (not index alignment) because unknown config values are NaN keys
    return point.merge(stats, on=keys, how="left")


def best_times(crossings: pd.DataFrame) -> pd.DataFrame:
    """Per (env, σ, N, threshold, sample): the fastest config, i.e. the min over B, η and variants.

    This is the P2 `time_to_threshold` (data efficiency at the best batch size of each (σ, N)).
    """
    ordered = crossings.sort_values(["time", "batch_size", "learning_rate"], na_position="last")
    # drop_duplicates keeps whole rows (groupby.first would mix columns of different rows at NaNs)
    best = ordered.drop_duplicates(BEST_KEYS, keep="first")
    return best.sort_values(BEST_KEYS).reset_index(drop=True)
