"""P1 stages of the pipeline for one critic size N: B*(σ) and η*(σ), D_J(σ) per threshold, the
compute model, the data–compute frontier and the budget-optimal σ*(F) line (Rybkin et al. 2025).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from rlscale.analysis import fits, frontier, hparams, status, threshold
from rlscale.analysis.errors import AnalysisError, attempt
from rlscale.analysis.recipe import Recipe
from rlscale.analysis.types import SizeResult, Staged


def run_size(
    tidy: pd.DataFrame, crossings: pd.DataFrame, params: float, recipe: Recipe
) -> Staged[SizeResult]:
    """Every P1 fit of one size; a fit that cannot be made leaves a message, the rest still run.

    Args:
        tidy: the size's selected, normalised runs (for the measured FLOPs).
        crossings: its `threshold.crossing_frame` rows.
        params: its median N (NaN when unknown).
    """
    label = _label(params)
    tables, messages = [], []
    fitted_hparams, hparam_ci = {}, {}
    select = hparams.at_threshold(crossings, recipe.hyperparameters.threshold_index)
    for param in ("batch_size", "learning_rate"):
        stage = f"{param}*(σ){label}"
        best, notes = attempt(stage, hparams.bootstrap_best, select, param)
        messages += notes
        if best is None:
            continue
        table = hparams.best_table(best, param)
        tables.append((f"best_{param}", table.assign(critic_params=params)))
        fitted, notes = attempt(stage, _fit_hparam, best, table, param, recipe)
        messages += notes
        if fitted is not None:
            fitted_hparams[param], hparam_ci[param] = fitted
    if "batch_size" in fitted_hparams:
        table = hparams.proposal_table(
            fitted_hparams["batch_size"],
            fitted_hparams.get("learning_rate"),
            recipe.hyperparameters.predict_utds,
            recipe.hyperparameters.batch_multiple,
        )
        tables.append(("proposed_hyperparameters", table.assign(critic_params=params)))
    times = threshold.best_times(crossings)
    point = times[times["sample"] == threshold.POINT_ESTIMATE]
    boot = times[times["sample"] != threshold.POINT_ESTIMATE]
    samples = boot if len(boot) else None
    data_fits, notes = attempt(
        f"D_J(σ){label}", fits.fit_data_efficiency, point, samples, recipe.bootstrap.ci
    )
    messages += notes
    data_fits = data_fits or {}
    if data_fits:
        tables.append(("data_efficiency_fits", _fit_table(data_fits, params)))
    utd_range = (float(point["utd"].min()), float(point["utd"].max()))
    compute, notes = attempt(
        f"compute{label}", _compute_model, tidy, fitted_hparams, params, point, recipe
    )
    messages += notes
    if compute is not None:
        observed = point.assign(
            data=point["time"], compute=frontier.observed_compute(tidy, point, compute)
        )
        points = frontier.pareto_points(observed).assign(critic_params=params)
        tables.append(("frontier_points", points))
    result = SizeResult(params, fitted_hparams, hparam_ci, data_fits, compute, utd_range)
    if compute is not None and data_fits:
        staged, notes = attempt(f"budget{label}", _budget, result, recipe)
        messages += notes
        if staged is not None:
            result = replace(result, budget=staged.result)
            tables += staged.tables
            messages += staged.messages
    return Staged(result, tuple(tables), tuple(messages))


def _fit_hparam(
    best: pd.DataFrame, table: pd.DataFrame, param: str, recipe: Recipe
) -> tuple[hparams.HparamFit, dict[str, tuple[float, float]]]:
    shared = recipe.hyperparameters.slope == "shared"
    fit = hparams.fit_loglog(table, f"best_{param}_bootstrap_mean", shared)
    refits = hparams.bootstrap_draws(best, param, shared, recipe.bootstrap.ci)
    return hparams.assess(fit, refits, recipe.bootstrap.ci)


def _compute_model(
    tidy: pd.DataFrame,
    fitted: dict[str, hparams.HparamFit],
    params: float,
    point: pd.DataFrame,
    recipe: Recipe,
) -> frontier.ComputeModel:
    config = recipe.compute
    measured = frontier.flops_per_sample(tidy) if config.source != "formula" else None
    if config.source == "flops" and measured is None:
        raise AnalysisError(
            "compute.source is 'flops' but the runs logged no "
            "compute/flops_per_update; use 'auto' or 'formula'"
        )
    if measured is not None:
        per_sample, source = measured, "flops"
    else:
        params = config.critic_params or params
        if not np.isfinite(params):
            raise AnalysisError(
                "critic size N is unknown (no model/critic_params metric, no "
                "p{params} in the layout): set compute.critic_params in the recipe"
            )
        per_sample, source = config.flops_per_param_sample * params, "formula"
    if config.batch_size != "fitted":
        batch = frontier.constant_batch(float(config.batch_size))
    elif "batch_size" in fitted:
        batch = fitted["batch_size"]
    else:
        reached = point[np.isfinite(point["time"])]
        batch = frontier.batch_line(reached["utd"], reached["batch_size"])
    return frontier.ComputeModel(per_sample, batch, source)


def _budget(result: SizeResult, recipe: Recipe) -> Staged[dict | None]:
    """σ*(F) with its bootstrap CI; the frontier tables stay when only the line cannot be fitted."""
    config = recipe.budget
    curves = frontier.frontier(
        result.data_fits, result.compute, result.utd_range, config.delta, config.grid_points
    )
    optima = frontier.budget_optima(curves)
    params = result.critic_params
    tables = (
        ("frontier", curves.assign(critic_params=params)),
        ("budget_optima", optima.assign(critic_params=params)),
    )
    line, messages = attempt(
        f"budget{_label(params)}", frontier.budget_line, optima, config.holdout_top_k
    )
    if line is None:
        return Staged(None, tables, messages)
    return Staged({**line, "ci": _budget_ci(result, config, recipe.bootstrap.ci)}, tables)


def _label(params: float) -> str:
    return f" (N={params:.4g})" if np.isfinite(params) else ""


def _budget_ci(result: SizeResult, config, ci: float) -> dict[str, tuple[float, float]]:
    """Percentile CI of the σ*(F) line over the bootstrap refits of every D_J(σ)."""
    draws = [
        fit.draws.set_index("sample")
        for fit in result.data_fits.values()
        if fit.draws is not None and len(fit.draws)
    ]
    if len(draws) < len(result.data_fits):
        return {}
    lines = []
    for sample in sorted(set.intersection(*(set(d.index) for d in draws))):
        refitted = {
            i: fits.FitResult(f.form, dict(d.loc[sample]), info=f.info)
            for (i, f), d in zip(result.data_fits.items(), draws, strict=True)
        }
        curves = frontier.frontier(
            refitted, result.compute, result.utd_range, config.delta, config.grid_points
        )
        try:
            line = frontier.budget_line(frontier.budget_optima(curves), config.holdout_top_k)
        except AnalysisError:
            continue
        lines.append({"coefficient": line["coefficient"], "exponent": line["exponent"]})
    return status.percentile_ci(pd.DataFrame(lines), ci) if lines else {}


def _fit_table(data_fits: dict[int, fits.FitResult], params: float) -> pd.DataFrame:
    rows = []
    for index, fit in data_fits.items():
        row = {
            "critic_params": params,
            "threshold_index": index,
            "threshold": fit.info["threshold"],
            "loss": fit.loss,
            "status": fit.status,
            "status_reason": fit.status_reason,
            "bootstrap_failed_share": fit.info.get("bootstrap", {}).get("failed_share", np.nan),
        }
        for name, value in fit.params.items():
            low, high = fit.ci.get(name, (np.nan, np.nan))
            row |= {name: value, f"{name}_ci_low": low, f"{name}_ci_high": high}
        rows.append(row)
    return pd.DataFrame(rows)
