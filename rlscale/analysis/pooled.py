"""P2 laws pooled across tasks: the median-normalised time table and its D(σ, N) fit.

As model_scaling's `compute_normalized_times` (`bro_ablations/plot_utils.py`; P1 Appendix D):

- each task's normaliser m_task is the nanmedian of its crossing times over every threshold and
  every selected (σ, N) (a config that never reaches the top threshold still counts through the
  thresholds it reaches);
- m is the median of the task medians;
- time(σ, N, J_i) = m · nanmean over tasks of crossing / m_task (a task that misses the cell is
  skipped), time_std = m · std over tasks (numpy's ddof = 0; NaN if any task misses the cell).

Tasks are pooled by threshold index (each task has its own J values) and by critic width where the
layout names one (a width's N differs slightly between tasks with their observation sizes, as
P1's BRO "m"; the cell's N is then the median N over the tasks). D(σ, N) is fitted to the table
exactly as the per-env fit (`p2.fit_law`), beside the OLS baseline ln D = c0 + c1 ln σ + c2 ln N.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from rlscale.analysis import p2, shared_exponent, status, threshold
from rlscale.analysis.errors import AnalysisError, attempt
from rlscale.analysis.fits import FitResult
from rlscale.analysis.recipe import P2, Recipe
from rlscale.analysis.types import Pooled, SharedExponent, Staged

CELL = ["utd", "size", "threshold_index"]
OLS_FORM = "ln D = c0 + c1·ln σ + c2·ln N"


def size_key(times: pd.DataFrame) -> pd.Series:
    """What makes two tasks' runs one cell: the critic width where known, else N."""
    return times["critic_width"].where(times["critic_width"].notna(), times["critic_params"])


def task_medians(times: pd.DataFrame) -> pd.Series:
    """env -> nanmedian of its crossing times over all thresholds x (σ, N) of `times`.

    Tasks that reached no threshold at all have no median and are left out (and so out of m).
    """
    finite = times[np.isfinite(times["time"])]
    return finite.groupby("env")["time"].median()


def normalized_times(times: pd.DataFrame, tasks: Iterable[str] | None = None) -> pd.DataFrame:
    """The pooled table of one sample's best times (`threshold.best_times` rows of one sample).

    Args:
        times: columns env, utd, critic_params, critic_width, threshold_index, time.
        tasks: the tasks pooled (default: every env of `times`); a task of these without a row
            or a finite time at a cell misses that cell.

    Returns:
        One row per (σ, size, threshold index) with utd, critic_params (median over tasks),
        threshold_index, time, time_std, tasks (how many reached it) and median (m).
    """
    tasks = sorted(set(times["env"]) if tasks is None else set(tasks))
    medians = task_medians(times)
    if medians.empty:
        raise AnalysisError("P2 pooled: no task reached any threshold")
    frame = times[times["env"].isin(medians.index)].assign(size=size_key(times))
    # a threshold never reached is +inf in the crossings: the task misses that cell
    reached_time = frame["time"].where(np.isfinite(frame["time"]))
    ratio = reached_time / frame["env"].map(medians)
    table = frame.assign(ratio=ratio).pivot_table(
        index=CELL, columns="env", values="ratio", aggfunc="first", dropna=False
    )
    table = table.reindex(columns=tasks)  # a task without a median misses every cell
    m = float(np.median(medians.to_numpy()))
    ratios = table.to_numpy(float)
    reached = np.isfinite(ratios)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the mean of a cell no task reached
        mean = np.nanmean(ratios, axis=1)
    complete = reached.all(axis=1)
    spread = np.full(len(ratios), np.nan)
    spread[complete] = np.std(ratios[complete], axis=1)
    params = frame.groupby(CELL)["critic_params"].median().reindex(table.index)
    out = table.index.to_frame(index=False).assign(
        critic_params=params.to_numpy(float),
        time=m * mean,
        time_std=m * spread,
        tasks=reached.sum(axis=1),
        median=m,
    )
    return out.drop(columns="size")


def ols(utd, params, y, samples: Iterable[tuple[Any, tuple]] | None = None, ci: float = 0.95):
    """The log-linear baseline ln D = c0 + c1 ln σ + c2 ln N (plain least squares), with status.

    Args:
        utd, params, y: σ, N and D > 0, shape (n,) each.
        samples: (sample id, (σ, N, y)) per bootstrap sample; None or none: no intervals.
        ci: the intervals' level.
    """

    def solve(u, n, d) -> dict[str, float]:
        u, n, d = (np.asarray(v, float) for v in (u, n, d))
        if np.any(d <= 0) or len(set(u)) < 2 or len(set(n)) < 2:
            raise AnalysisError("OLS baseline needs positive times at 2+ σ and 2+ N values")
        design = np.column_stack([np.ones(len(d)), np.log(u), np.log(n)])
        coef, *_ = np.linalg.lstsq(design, np.log(d), rcond=None)
        return dict(zip(("c0", "c1", "c2"), map(float, coef), strict=True))

    fitted = solve(utd, params, y)
    design = np.column_stack([np.ones(len(y)), np.log(utd), np.log(params)])
    residual = np.log(np.asarray(y, float)) - design @ np.array(list(fitted.values()))
    loss = float(np.mean(residual**2))
    boot = status.bootstrap_refits(samples, lambda data: solve(*data), ci)
    points = len({(float(u), float(n)) for u, n in zip(utd, params, strict=True)})
    domains = {name: status.free() for name in fitted}
    verdict = status.assess(fitted, domains, points, loss, None, boot.intervals, ci)
    return FitResult(OLS_FORM, fitted, boot.intervals or {}, loss, boot.info, None, *verdict)


def fit_threshold(
    table: pd.DataFrame, samples: list[tuple[Any, pd.DataFrame]], log_loss: bool, ci: float
) -> tuple[FitResult, FitResult, pd.DataFrame]:
    """D(σ, N) and the OLS baseline on one threshold's pooled rows, each sample's rows refitted.

    Returns:
        (sum-of-power-law fit, OLS fit, the fitted rows with both predictions).
    """
    rows = table[np.isfinite(table["time"])]
    if rows["utd"].nunique() < 2 or rows["critic_params"].nunique() < 2:
        raise AnalysisError("fewer than 2 σ or 2 N values reached this threshold in the pool")

    def data(frame: pd.DataFrame) -> tuple:
        frame = frame[np.isfinite(frame["time"])]
        return frame["utd"], frame["critic_params"], frame["time"]

    boot = [(sample_id, data(frame)) for sample_id, frame in samples]
    fit = p2.fit_law("sum_of_powerlaw", *data(rows), log_loss, boot, ci)
    baseline = ols(*data(rows), boot, ci)
    predicted = p2.predict("sum_of_powerlaw", fit, rows["utd"], rows["critic_params"])
    c = baseline.params
    linear = np.exp(
        c["c0"] + c["c1"] * np.log(rows["utd"]) + c["c2"] * np.log(rows["critic_params"])
    )
    return fit, baseline, rows.assign(predicted=predicted, predicted_ols=linear)


def run(times: pd.DataFrame, recipe: Recipe) -> Staged[tuple[Pooled, SharedExponent]]:
    """`p2.pool: median_normalized`: the pooled table, its fits and the shared-exponent fits.

    Each bootstrap sample's table is built from that sample's times alone (its own task medians):
    the normalisation is part of the estimate its interval describes.

    Args:
        times: `threshold.best_times` rows of every env and sample, N known.

    Returns:
        The pooled and shared-exponent fits per threshold index, the table p2_pooled_time, and a
        message per index whose fit could not be made.
    """
    log_loss, ci = recipe.p2.loss == "log", recipe.bootstrap.ci
    tasks = sorted(set(times["env"]))
    samples = dict(tuple(times.groupby("sample")))
    point = samples.pop(threshold.POINT_ESTIMATE)
    table = normalized_times(point, tasks)
    pooled_samples = {i: normalized_times(frame, tasks) for i, frame in samples.items()}
    indices = sorted(set(table["threshold_index"]))
    chosen = indices[-1:] if recipe.p2.threshold == "last" else indices
    pooled_fits, ols_fits, shared_fits, fitted, messages = {}, {}, {}, [], []
    for index in chosen:
        boot = [(i, t[t["threshold_index"] == index]) for i, t in pooled_samples.items()]
        rows = table[table["threshold_index"] == index]
        result, notes = attempt(
            f"P2 pooled D(σ,N) i={index}", fit_threshold, rows, boot, log_loss, ci
        )
        messages += notes
        if result:
            pooled_fits[index] = replace(result[0], draws=None)
            ols_fits[index] = result[1]
            fitted.append(result[2])
        per_env = point[point["threshold_index"] == index]
        boot = [(i, s[s["threshold_index"] == index]) for i, s in samples.items()]
        fit, notes = attempt(
            f"P2 shared-exponent D(σ,N) i={index}",
            shared_exponent.fit,
            per_env,
            log_loss,
            boot,
            ci,
        )
        messages += notes
        if fit:
            shared_fits[index] = replace(fit, draws=None)
    if fitted:
        keys = ["utd", "critic_params", "threshold_index"]
        predictions = pd.concat(fitted)[[*keys, "predicted", "predicted_ols"]]
        table = table.merge(predictions, on=keys, how="left")
    pooled = _pooled(point, tasks, recipe.p2, pooled_fits, ols_fits)
    shared = SharedExponent(recipe.p2.threshold, shared_fits)
    return Staged((pooled, shared), (("p2_pooled_time", table),), tuple(messages))


def _pooled(
    point: pd.DataFrame,
    tasks: list[str],
    config: P2,
    data_efficiency: dict[int, FitResult],
    ols_fits: dict[int, FitResult],
) -> Pooled:
    """The fits with what the pool records besides them: the setting, tasks, medians, thresholds."""
    medians = task_medians(point)
    thresholds = point.drop_duplicates(["env", "threshold_index"]).groupby("threshold_index")
    return Pooled(
        config.pool,
        config.threshold,
        tuple(tasks),
        medians.to_dict(),
        float(np.median(medians.to_numpy())),
        {int(i): r.set_index("env")["threshold"].to_dict() for i, r in thresholds},
        data_efficiency,
        ols_fits,
    )
