"""The P1 pipeline: tidy runs + recipe -> crossing times, B*/η*, D_J(σ), compute and budget fits.

Each stage that cannot run on the data (one σ, one batch size, nothing reached, N unknown, ...)
records a message and the stages that do not depend on it still run, so the report always shows
what can be computed. P2 (σ x N) stages are in `pipeline_p2.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rlscale.analysis import fits as p1_fits
from rlscale.analysis import frontier, hparams, iqm, pipeline_p2, stages, threshold
from rlscale.analysis.errors import AnalysisError
from rlscale.analysis.recipe import Recipe
from rlscale.analysis.threads import one_blas_thread


@dataclass
class SizeResult:
    """P1 results for one critic size N (NaN when unknown)."""

    critic_params: float
    hparams: dict[str, hparams.HparamFit] = field(default_factory=dict)
    hparam_ci: dict[str, dict] = field(default_factory=dict)
    data_fits: dict[int, p1_fits.FitResult] = field(default_factory=dict)
    compute: frontier.ComputeModel | None = None
    utd_range: tuple[float, float] = (np.nan, np.nan)
    budget: dict | None = None


@dataclass
class Analysis:
    """Everything the report shows; `messages` says what could not be computed and why."""

    recipe: Recipe
    source: str = ""
    curves: list[threshold.Curve] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    sizes: list[SizeResult] = field(default_factory=list)
    p2: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, dict] = field(default_factory=dict)  # env -> resolved values and rule
    messages: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def attempt(self, stage: str, function: Callable, *args: Any) -> Any:
        """Run one stage; on AnalysisError record "stage: why" and return None."""
        try:
            return function(*args)
        except AnalysisError as error:
            self.messages.append(f"{stage}: {error}")
            return None

    def add_table(self, name: str, table: pd.DataFrame | None) -> None:
        if table is not None and len(table):
            previous = self.tables.get(name)
            self.tables[name] = table if previous is None else pd.concat([previous, table])


def run(tidy: pd.DataFrame, recipe: Recipe, source: str = "") -> Analysis:
    """The whole P1 (+ P2 when several N exist) analysis of a tidy frame (issue steps 2–9)."""
    with one_blas_thread():  # see threads.py
        return _run(tidy, recipe, source)


def _run(tidy: pd.DataFrame, recipe: Recipe, source: str) -> Analysis:
    analysis = Analysis(recipe, source)
    prepared = stages.prepare(analysis, tidy)
    if prepared is None:
        return analysis
    tidy, curves = prepared
    recipe = analysis.recipe  # thresholds resolved
    boot = recipe.bootstrap
    crossings = threshold.crossing_frame(
        curves, recipe.thresholds_for, boot.samples, boot.seed, recipe.reset_every_updates
    )
    analysis.add_table("data_to_threshold", threshold.summarize(crossings, boot.ci))
    _check_reached(crossings, analysis)
    sizes = _size_key(crossings)
    tidy_sizes = _size_key(tidy)
    for key, rows in crossings.groupby(sizes, dropna=False):
        size_tidy = tidy[(tidy_sizes == key) | (tidy_sizes.isna() & np.isnan(key))]
        params = rows["critic_params"].dropna()
        median = float(params.median()) if len(params) else np.nan
        analysis.sizes.append(_run_size(analysis, size_tidy, rows, median))
    if pipeline_p2.enabled(crossings, recipe):
        pipeline_p2.run(analysis, crossings)
    summary = iqm.final_return_iqm(curves, recipe.report.iqm_bootstrap_samples, boot.ci)
    analysis.add_table("iqm_final_return", summary)
    return analysis


def _size_key(frame: pd.DataFrame) -> pd.Series:
    """The critic size a P1 fit holds fixed: the width where known, else N.

    As in P1, one size spans envs whose N differ slightly with their observation sizes (BRO "m"
    is N = 4.92e6 for every DMC env); the compute then uses the median N of the group.
    """
    return frame["critic_width"].where(frame["critic_width"].notna(), frame["critic_params"])


def _check_reached(crossings: pd.DataFrame, analysis: Analysis) -> None:
    point = crossings[crossings["sample"] == threshold.POINT_ESTIMATE]
    reached = point.groupby(["env", "threshold_index", "threshold"])["time"].apply(
        lambda t: np.isfinite(t).any()
    )
    for (env, _, value), ok in reached.items():
        if not ok:
            analysis.messages.append(
                f"threshold J={value:.4g} ({env}) was never reached by any config; it is left "
                "out of every fit (lower it or train longer)"
            )


def _label(params: float) -> str:
    return f" (N={params:.4g})" if np.isfinite(params) else ""


def _run_size(
    analysis: Analysis, tidy: pd.DataFrame, crossings: pd.DataFrame, params: float
) -> SizeResult:
    recipe, label = analysis.recipe, _label(params)
    result = SizeResult(params)
    select = hparams.at_threshold(crossings, recipe.hyperparameters.threshold_index)
    for param in ("batch_size", "learning_rate"):
        analysis.attempt(f"{param}*(σ){label}", _fit_hparam, analysis, result, select, param)
    if "batch_size" in result.hparams:
        table = hparams.proposal_table(
            result.hparams["batch_size"],
            result.hparams.get("learning_rate"),
            recipe.hyperparameters.predict_utds,
            recipe.hyperparameters.batch_multiple,
        )
        analysis.add_table("proposed_hyperparameters", table.assign(critic_params=params))
    times = threshold.best_times(crossings)
    point = times[times["sample"] == threshold.POINT_ESTIMATE]
    boot = times[times["sample"] != threshold.POINT_ESTIMATE]
    samples = boot if len(boot) else None
    data_fits = analysis.attempt(
        f"D_J(σ){label}", p1_fits.fit_data_efficiency, point, samples, recipe.bootstrap.ci
    )
    if data_fits:
        result.data_fits = data_fits
        analysis.add_table("data_efficiency_fits", _fit_table(data_fits, params))
    result.utd_range = (float(point["utd"].min()), float(point["utd"].max()))
    result.compute = analysis.attempt(
        f"compute{label}", _compute_model, tidy, result, point, recipe
    )
    if result.compute is not None:
        observed = point.assign(
            data=point["time"], compute=frontier.observed_compute(tidy, point, result.compute)
        )
        analysis.add_table(
            "frontier_points", frontier.pareto_points(observed).assign(critic_params=params)
        )
    if result.compute is not None and data_fits:
        analysis.attempt(f"budget{label}", _budget, analysis, result)
    return result


def _fit_hparam(analysis: Analysis, result: SizeResult, select: pd.DataFrame, param: str) -> None:
    shared = analysis.recipe.hyperparameters.slope == "shared"
    best = hparams.bootstrap_best(select, param)
    table = hparams.best_table(best, param)
    analysis.add_table(f"best_{param}", table.assign(critic_params=result.critic_params))
    fit = hparams.fit_loglog(table, f"best_{param}_bootstrap_mean", shared)
    boot = hparams.bootstrap_draws(best, param, shared)
    fit, intervals = hparams.assess(
        fit, boot if boot.samples else None, analysis.recipe.bootstrap.ci
    )
    result.hparams[param] = fit
    result.hparam_ci[param] = intervals


def _compute_model(
    tidy: pd.DataFrame, result: SizeResult, point: pd.DataFrame, recipe: Recipe
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
        params = config.critic_params or result.critic_params
        if not np.isfinite(params):
            raise AnalysisError(
                "critic size N is unknown (no model/critic_params metric, no "
                "p{params} in the layout): set compute.critic_params in the recipe"
            )
        per_sample, source = config.flops_per_param_sample * params, "formula"
    if config.batch_size != "fitted":
        batch = frontier.constant_batch(float(config.batch_size))
    elif "batch_size" in result.hparams:
        batch = result.hparams["batch_size"]
    else:
        reached = point[np.isfinite(point["time"])]
        batch = frontier.batch_line(reached["utd"], reached["batch_size"])
    return frontier.ComputeModel(per_sample, batch, source)


def _budget(analysis: Analysis, result: SizeResult) -> None:
    config = analysis.recipe.budget
    curves = frontier.frontier(
        result.data_fits, result.compute, result.utd_range, config.delta, config.grid_points
    )
    optima = frontier.budget_optima(curves)
    label = result.critic_params
    analysis.add_table("frontier", curves.assign(critic_params=label))
    analysis.add_table("budget_optima", optima.assign(critic_params=label))
    result.budget = frontier.budget_line(optima, config.holdout_top_k)
    result.budget["ci"] = _budget_ci(result, config, analysis.recipe.bootstrap.ci)


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
        fits = {
            i: p1_fits.FitResult(f.form, dict(d.loc[sample]), info=f.info)
            for (i, f), d in zip(result.data_fits.items(), draws, strict=True)
        }
        curves = frontier.frontier(
            fits, result.compute, result.utd_range, config.delta, config.grid_points
        )
        try:
            line = frontier.budget_line(frontier.budget_optima(curves), config.holdout_top_k)
        except AnalysisError:
            continue
        lines.append({"coefficient": line["coefficient"], "exponent": line["exponent"]})
    return p1_fits.percentile_ci(pd.DataFrame(lines), ci) if lines else {}


def _fit_table(data_fits: dict[int, p1_fits.FitResult], params: float) -> pd.DataFrame:
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
