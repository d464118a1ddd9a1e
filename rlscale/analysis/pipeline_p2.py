"""P2 stages of the pipeline: per env, D_J(σ, N) per threshold, B*(σ, N) and the compute-optimal
(σ*, N*) for each threshold's budget, with σ*(F) and N*(F) log-log lines (Fu et al. 2025 §3).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rlscale.analysis import hparams, p2, pooled, threshold
from rlscale.analysis.errors import AnalysisError
from rlscale.analysis.fits import FitResult

if TYPE_CHECKING:
    from rlscale.analysis.pipeline import Analysis
    from rlscale.analysis.recipe import Recipe

GROUP = ("env", "utd", "critic_params")


def enabled(crossings: pd.DataFrame, recipe: Recipe) -> bool:
    """P2 runs when asked, or ("auto") when the data has 2+ critic sizes and 2+ σ values."""
    if isinstance(recipe.p2.enabled, bool):
        return recipe.p2.enabled
    return crossings["critic_params"].nunique() >= 2 and crossings["utd"].nunique() >= 2


def run(analysis: Analysis, crossings: pd.DataFrame) -> None:
    """Fill `analysis.p2` and the p2_* tables for every env."""
    crossings = crossings[np.isfinite(crossings["critic_params"])]
    if crossings.empty:
        analysis.messages.append("P2: critic sizes N are unknown; set critic_params_by_width")
        return
    recipe = analysis.recipe
    times = threshold.best_times(crossings)
    analysis.p2 = {
        "envs": {},
        "width_to_params": _width_to_params(crossings),
        "delta": recipe.budget.delta,
        "flops_per_param_sample": recipe.compute.flops_per_param_sample,
    }
    for env, env_times in times.groupby("env"):
        result = {}
        data_fits = analysis.attempt(f"P2 D_J(σ,N) {env}", _fit_data, analysis, env_times)
        if data_fits:
            result["data_efficiency"] = {i: f.to_json() for i, f in data_fits.items()}
        select = hparams.at_threshold(
            crossings[crossings["env"] == env], recipe.hyperparameters.threshold_index
        )
        batch_fit = analysis.attempt(f"P2 B*(σ,N) {env}", _fit_batch, analysis, select)
        if batch_fit:
            result["batch_size"] = batch_fit.to_json()
        if data_fits:
            analysis.attempt(
                f"P2 compute-optimal {env}",
                _compute_optimal,
                analysis,
                env,
                data_fits,
                batch_fit,
                result,
            )
        analysis.p2["envs"][env] = result
    if recipe.p2.pool == "median_normalized":
        analysis.attempt("P2 pooled", pooled.run, analysis, times)


def _width_to_params(crossings: pd.DataFrame) -> list[list[float]]:
    pairs = crossings[["critic_width", "critic_params"]].dropna().drop_duplicates()
    return sorted(pairs.to_numpy().tolist())


def _fit_data(analysis: Analysis, times: pd.DataFrame) -> dict[int, FitResult]:
    """sum_of_powerlaw fit per threshold; CIs from bootstrap refits started from zeros."""
    log_loss = analysis.recipe.p2.loss == "log"
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
            samples if samples else None,
            analysis.recipe.bootstrap.ci,
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
    analysis.add_table("p2_data_efficiency", pd.concat(rows, ignore_index=True))
    return fits


def _fit_batch(analysis: Analysis, select: pd.DataFrame) -> FitResult:
    """B*(σ, N) fitted to the bootstrap-mean argmin batch size of every (σ, N).

    The target is P2's `best_bs_bootstrap_mean`; CIs come from per-sample refits started from zeros.
    """
    best = hparams.bootstrap_best(select, "batch_size", GROUP)
    table = hparams.best_table(best, "batch_size", GROUP).dropna(
        subset=["best_batch_size_bootstrap_mean"]
    )
    log_loss = analysis.recipe.p2.loss == "log"
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
        samples if samples else None,
        analysis.recipe.bootstrap.ci,
    )
    fit = replace(fit, draws=None)
    predicted = p2.predict("inverse_power_product", fit, table["utd"], table["critic_params"])
    analysis.add_table("p2_batch_size", table.assign(predicted=predicted))
    return fit


def _compute_optimal(
    analysis: Analysis,
    env: str,
    data_fits: dict[int, FitResult],
    batch_fit: FitResult | None,
    result: dict,
) -> None:
    recipe = analysis.recipe
    setting = recipe.p2.compute_batch_size
    if setting == "fitted" and batch_fit is None:
        raise AnalysisError("p2.compute_batch_size is 'fitted' but B*(σ,N) could not be fitted")
    batch = (
        (lambda u, n: p2.predict("inverse_power_product", batch_fit, u, n))
        if setting == "fitted"
        else float(setting)
    )
    table = analysis.tables["p2_data_efficiency"]
    rows = table[table["env"] == env]
    box = (
        (rows["utd"].min(), rows["utd"].max()),
        (rows["critic_params"].min(), rows["critic_params"].max()),
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
    analysis.add_table("p2_compute_optimal", optima)
    result["compute_optimal"] = {
        "batch_size": setting,
        "box": [list(map(float, b)) for b in box],
        "utd_line": _line(optima, "utd", recipe.p2.holdout_top_k),
        "params_line": _line(optima, "critic_params", recipe.p2.holdout_top_k),
    }


def _line(optima: pd.DataFrame, column: str, holdout: int) -> dict:
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
    return {
        "coefficient": float(10.0**intercept),
        "exponent": float(slope),
        "holdout_relative_error": (predicted / held[column] - 1.0).astype(float).tolist(),
    }
