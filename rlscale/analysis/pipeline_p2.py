"""P2 stages of the pipeline: per env, D_J(σ, N) per threshold, B*(σ, N) and the compute-optimal
(σ*, N*) for each threshold's budget, with σ*(F) and N*(F) log-log lines (Fu et al. 2025 §3).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from rlscale.analysis import hparams, p2, pooled, threshold
from rlscale.analysis.errors import AnalysisError, attempt
from rlscale.analysis.fits import FitResult
from rlscale.analysis.recipe import Recipe
from rlscale.analysis.types import ComputeOptimal, P2Env, P2Result, PowerLine, Staged

GROUP = ("env", "utd", "critic_params")


def enabled(crossings: pd.DataFrame, recipe: Recipe) -> bool:
    """P2 runs when asked, or ("auto") when the data has 2+ critic sizes and 2+ σ values."""
    if isinstance(recipe.p2.enabled, bool):
        return recipe.p2.enabled
    return crossings["critic_params"].nunique() >= 2 and crossings["utd"].nunique() >= 2


def run(crossings: pd.DataFrame, recipe: Recipe) -> Staged[P2Result | None]:
    """Every env's P2 fits and the p2_* tables; the pooled fits when the recipe pools."""
    crossings = crossings[np.isfinite(crossings["critic_params"])]
    if crossings.empty:
        return Staged(
            None, messages=("P2: critic sizes N are unknown; set critic_params_by_width",)
        )
    times = threshold.best_times(crossings)
    tables, messages, envs = [], [], {}
    for env, env_times in times.groupby("env"):
        staged = _run_env(env, env_times, crossings[crossings["env"] == env], recipe)
        envs[env] = staged.result
        tables += staged.tables
        messages += staged.messages
    result = P2Result(
        envs,
        _width_to_params(crossings),
        recipe.budget.delta,
        recipe.compute.flops_per_param_sample,
    )
    if recipe.p2.pool == "median_normalized":
        pool, notes = attempt("P2 pooled", pooled.run, times, recipe)
        messages += notes
        if pool is not None:
            result = replace(result, pooled=pool.result[0], shared_exponent=pool.result[1])
            tables += pool.tables
            messages += pool.messages
    return Staged(result, tuple(tables), tuple(messages))


def _run_env(
    env: str, times: pd.DataFrame, crossings: pd.DataFrame, recipe: Recipe
) -> Staged[P2Env]:
    tables, messages = [], []
    data, notes = attempt(f"P2 D_J(σ,N) {env}", _fit_data, times, recipe)
    messages += notes
    if data is not None:
        tables.append(("p2_data_efficiency", data[1]))
    select = hparams.at_threshold(crossings, recipe.hyperparameters.threshold_index)
    batch, notes = attempt(f"P2 B*(σ,N) {env}", _fit_batch, select, recipe)
    messages += notes
    if batch is not None:
        tables.append(("p2_batch_size", batch[1]))
    batch_fit = batch[0] if batch else None
    optimal = None
    if data is not None:
        stage = f"P2 compute-optimal {env}"
        staged, notes = attempt(stage, _compute_optimal, env, *data, batch_fit, recipe)
        messages += notes
        if staged is not None:
            optimal = staged.result
            tables += staged.tables
            messages += staged.messages
    result = P2Env(data[0] if data else {}, batch_fit, optimal)
    return Staged(result, tuple(tables), tuple(messages))


def _width_to_params(crossings: pd.DataFrame) -> tuple[tuple[float, float], ...]:
    pairs = crossings[["critic_width", "critic_params"]].dropna().drop_duplicates()
    return tuple(tuple(pair) for pair in sorted(pairs.to_numpy().tolist()))


def _fit_data(times: pd.DataFrame, recipe: Recipe) -> tuple[dict[int, FitResult], pd.DataFrame]:
    """sum_of_powerlaw fit per threshold and the fitted rows; CIs from refits started from zeros."""
    log_loss = recipe.p2.loss == "log"
    point = times[(times["sample"] == threshold.POINT_ESTIMATE) & np.isfinite(times["time"])]
    boot = times[times["sample"] != threshold.POINT_ESTIMATE]
    fits, rows = {}, []
    for index, group in point.groupby("threshold_index"):
        if group["utd"].nunique() < 2 or group["critic_params"].nunique() < 2:
            continue
        samples = []
        for sample_id, sample in boot[boot["threshold_index"] == index].groupby("sample"):
            sample = sample[np.isfinite(sample["time"])]
            samples.append((sample_id, (sample["utd"], sample["critic_params"], sample["time"])))
        fit = p2.fit_law(
            "sum_of_powerlaw",
            group["utd"],
            group["critic_params"],
            group["time"],
            log_loss,
            samples,
            recipe.bootstrap.ci,
        )
        threshold_value = float(group["threshold"].iloc[0])
        fit = replace(fit, info={"threshold": threshold_value, **fit.info}, draws=None)
        fits[int(index)] = fit
        predicted = p2.predict("sum_of_powerlaw", fit, group["utd"], group["critic_params"])
        rows.append(
            group[
                [
                    "env",
                    "utd",
                    "critic_params",
                    "threshold_index",
                    "threshold",
                    "time",
                    "batch_size",
                ]
            ].assign(predicted=predicted)
        )
    if not fits:
        raise AnalysisError("no threshold was reached at 2+ σ and 2+ N values")
    return fits, pd.concat(rows, ignore_index=True)


def _fit_batch(select: pd.DataFrame, recipe: Recipe) -> tuple[FitResult, pd.DataFrame]:
    """B*(σ, N) fitted to the bootstrap-mean argmin batch size of every (σ, N).

    The target is P2's `best_bs_bootstrap_mean`; CIs come from per-sample refits started from zeros.
    """
    best = hparams.bootstrap_best(select, "batch_size", GROUP)
    table = hparams.best_table(best, "batch_size", GROUP).dropna(
        subset=["best_batch_size_bootstrap_mean"]
    )
    log_loss = recipe.p2.loss == "log"
    boot = best[best["sample"] != threshold.POINT_ESTIMATE]
    samples = [
        (sample_id, (sample["utd"], sample["critic_params"], sample["batch_size"]))
        for sample_id, sample in hparams.per_sample_best(boot, "batch_size", GROUP).groupby(
            "sample"
        )
    ]
    fit = p2.fit_law(
        "inverse_power_product",
        table["utd"],
        table["critic_params"],
        table["best_batch_size_bootstrap_mean"],
        log_loss,
        samples,
        recipe.bootstrap.ci,
    )
    fit = replace(fit, draws=None)
    predicted = p2.predict("inverse_power_product", fit, table["utd"], table["critic_params"])
    return fit, table.assign(predicted=predicted)


def _compute_optimal(
    env: str,
    data_fits: dict[int, FitResult],
    rows: pd.DataFrame,
    batch_fit: FitResult | None,
    recipe: Recipe,
) -> Staged[ComputeOptimal | None]:
    """(σ*, N*) per threshold inside the tested box; the table stays if the lines cannot be fitted.

    Args:
        rows: the env's `_fit_data` rows, whose σ and N ranges bound the search.
    """
    setting = recipe.p2.compute_batch_size
    if setting == "fitted" and batch_fit is None:
        raise AnalysisError("p2.compute_batch_size is 'fitted' but B*(σ,N) could not be fitted")
    batch = (
        (lambda u, n: p2.predict("inverse_power_product", batch_fit, u, n))
        if setting == "fitted"
        else float(setting)
    )
    box = (
        (float(rows["utd"].min()), float(rows["utd"].max())),
        (float(rows["critic_params"].min()), float(rows["critic_params"].max())),
    )
    optima = []
    for index, fit in data_fits.items():
        best = p2.compute_optimal(
            fit, batch, recipe.budget.delta, recipe.compute.flops_per_param_sample, box
        )
        optima.append(
            {"env": env, "threshold_index": index, "threshold": fit.info["threshold"], **best}
        )
    optima = pd.DataFrame(optima).sort_values("threshold")
    tables = (("p2_compute_optimal", optima),)

    def lines() -> ComputeOptimal:
        holdout = recipe.p2.holdout_top_k
        utd, params = _line(optima, "utd", holdout), _line(optima, "critic_params", holdout)
        return ComputeOptimal(setting, box, utd, params)

    optimal, messages = attempt(f"P2 compute-optimal {env}", lines)
    return Staged(optimal, tables, messages)


def _line(optima: pd.DataFrame, column: str, holdout: int) -> PowerLine:
    """log10 y* = s·log10 F* + log10 k on all but the top `holdout` thresholds."""
    fitted = optima.iloc[: max(len(optima) - holdout, 0)]
    if len(fitted) < 2 or fitted[column].nunique() < 2:
        raise AnalysisError(
            f"{column}*(F): fewer than 2 distinct optima left after holding out "
            f"{holdout} thresholds (optima may sit on the edge of the tested box)"
        )
    slope, intercept = np.polyfit(np.log10(fitted["budget"]), np.log10(fitted[column]), 1)
    held = optima.iloc[len(fitted) :]
    predicted = 10.0 ** (intercept + slope * np.log10(held["budget"]))
    errors = (predicted / held[column] - 1.0).astype(float)
    return PowerLine(float(10.0**intercept), float(slope), tuple(errors.tolist()))
