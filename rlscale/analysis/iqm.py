"""Interquartile mean with stratified bootstrap CIs, as defined by rliable (Agarwal et al. 2021).

IQM = mean of the middle 50% of all (run, task) scores (`scipy.stats.trim_mean(·, 0.25)` over the
flattened score matrix). The stratified bootstrap resamples runs with replacement *within* each
task, so every task keeps its weight; the CI is the percentile interval of the resampled IQMs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from rlscale.analysis.threshold import Curve


def iqm(scores: np.ndarray) -> float:
    """rliable `aggregate_iqm`: 25%-trimmed mean of all scores."""
    return float(stats.trim_mean(np.asarray(scores, float).reshape(-1), proportiontocut=0.25))


def _iqm_rows(scores: np.ndarray) -> np.ndarray:
    """`iqm` of every row of a 2-D array (scipy's trim_mean cut: int(0.25·n) from each end)."""
    cut = int(0.25 * scores.shape[1])
    ordered = np.sort(scores, axis=1)
    return ordered[:, cut : scores.shape[1] - cut].mean(axis=1)


def stratified_bootstrap_ci(
    scores_by_task: list[np.ndarray], samples: int = 2000, ci: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """IQM of all scores and its stratified-bootstrap percentile CI.

    Args:
        scores_by_task: one array of run scores per task (lengths may differ).
        samples: bootstrap repetitions (rliable's default is 50000; 2000 resolves a 95% CI).
        ci: confidence level. seed: generator seed.

    Returns:
        (iqm, ci_low, ci_high).
    """
    tasks = [np.asarray(s, float)[np.isfinite(s)] for s in scores_by_task]
    tasks = [t for t in tasks if len(t)]
    if not tasks:
        return (np.nan, np.nan, np.nan)
    rng = np.random.default_rng(seed)
    resampled = [t[rng.integers(0, len(t), (samples, len(t)))] for t in tasks]
    draws = _iqm_rows(np.concatenate(resampled, axis=1))
    tail = 100.0 * (1.0 - ci) / 2.0
    point = iqm(np.concatenate(tasks))
    return point, float(np.percentile(draws, tail)), float(np.percentile(draws, 100.0 - tail))


def final_return_iqm(
    curves: Sequence[Curve], samples: int = 2000, ci: float = 0.95
) -> pd.DataFrame:
    """Cross-env IQM of the final normalised return per (σ, N), best config per env.

    Per (env, σ, N) the config with the highest seed-mean final return is kept; its seeds' last
    logged returns are the run scores of that env (task).

    Returns:
        Columns utd, critic_params, iqm, ci_low, ci_high, n_envs, n_runs.
    """
    best: dict[tuple, tuple[float, np.ndarray]] = {}
    for curve in curves:
        finals = np.array(
            [
                col[np.isfinite(col)][-1] if np.isfinite(col).any() else np.nan
                for col in curve.returns.T
            ]
        )
        key = (curve.config["env"], curve.config["utd"], curve.config["critic_params"])
        score = np.nanmean(finals) if np.isfinite(finals).any() else -np.inf
        if key not in best or score > best[key][0]:
            best[key] = (score, finals)
    rows = []
    groups = {(utd, params) for _, utd, params in best}
    for utd, params in sorted(groups, key=lambda g: (g[0], np.nan_to_num(g[1]))):
        tasks = [
            finals
            for (_, u, p), (_, finals) in best.items()
            if u == utd and (p == params or (np.isnan(p) and np.isnan(params)))
        ]
        point, low, high = stratified_bootstrap_ci(tasks, samples, ci)
        rows.append(
            {
                "utd": utd,
                "critic_params": params,
                "iqm": point,
                "ci_low": low,
                "ci_high": high,
                "n_envs": len(tasks),
                "n_runs": int(sum(np.isfinite(t).sum() for t in tasks)),
            }
        )
    return pd.DataFrame(rows)
