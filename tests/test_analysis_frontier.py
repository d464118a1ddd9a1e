"""Compute model, budget-optimal σ*, the σ*(F) line with held-out thresholds, Pareto points, IQM."""

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from rlscale.analysis import frontier, iqm
from rlscale.analysis.errors import AnalysisError
from rlscale.analysis.fits import FitResult


def _fit(a, b, c, m, threshold=800.0):
    return FitResult("", {"a": a, "b": b, "c": c, "m": m}, info={"threshold": threshold})


def test_budget_optimum_matches_a_continuous_minimiser():
    fit = _fit(0.8, 1.5, 0.9, 2e5)
    compute = frontier.ComputeModel(1.5e6, frontier.constant_batch(256.0), "formula")
    curves = frontier.frontier({0: fit}, compute, (0.25, 16.0), delta=4e9, points=400)
    (row,) = frontier.budget_optima(curves).itertuples()

    def budget(log_utd):
        utd = np.exp(log_utd)
        return float((compute.per_env_step(utd) + 4e9) * frontier.data_curve(fit, utd))

    best = optimize.minimize_scalar(budget, bounds=np.log([0.25, 16.0]), method="bounded")
    # within one step of the 400-point log grid
    assert abs(np.log(row.utd) - best.x) <= np.log(64) / 399 + 1e-9


def test_compute_is_ten_n_b_sigma_d():
    batch = frontier.constant_batch(256.0)
    compute = frontier.ComputeModel(10 * 1.5e5, batch, "formula")
    assert compute.per_env_step(4.0) == pytest.approx(10 * 1.5e5 * 256 * 4)


def test_budget_line_recovers_power_law_and_predicts_held_out_points():
    budgets = np.logspace(14, 15.5, 10)
    optima = pd.DataFrame(
        {
            "threshold": np.arange(10.0),
            "budget": budgets,
            "utd": 2.62e-9 * budgets**0.62,
            "data": budgets / 1e10,
            "compute": budgets / 2,
        }
    )
    line = frontier.budget_line(optima, holdout=2)
    assert line["coefficient"] == pytest.approx(2.62e-9, rel=1e-6)
    assert line["exponent"] == pytest.approx(0.62, rel=1e-6)
    assert [h["relative_error"] for h in line["holdout"]] == pytest.approx([0, 0], abs=1e-6)
    with pytest.raises(AnalysisError, match="2\\+ fitted thresholds"):
        frontier.budget_line(optima.iloc[:3], holdout=2)


def test_pareto_points_drop_dominated_configs():
    points = pd.DataFrame(
        {
            "threshold_index": 0,
            "data": [1.0, 2.0, 3.0, 2.5, np.inf],
            "compute": [5.0, 3.0, 1.0, 4.0, 0.5],
        }
    )
    kept = frontier.pareto_points(points)
    # (2.5, 4.0) is dominated by (2.0, 3.0); the never-reached config is not a point
    assert sorted(kept["data"]) == [1.0, 2.0, 3.0]


def test_batch_line_through_observed_batch_sizes():
    line = frontier.batch_line([1.0, 2.0, 4.0], [256.0, 128.0, 64.0])
    assert line.mean_over_envs(8.0) == pytest.approx(32.0)
    constant = frontier.batch_line([2.0, 2.0], [100.0, 400.0])
    assert constant.mean_over_envs(8.0) == pytest.approx(200.0)


def test_iqm_is_rliables_25_percent_trimmed_mean():
    scores = np.random.default_rng(0).normal(size=(10, 5))
    assert iqm.iqm(scores) == pytest.approx(stats.trim_mean(scores.ravel(), 0.25))
    point, low, high = iqm.stratified_bootstrap_ci(list(scores.T), samples=500)
    assert low < point < high


def test_stratified_bootstrap_keeps_every_task():
    # a task with one constant run can never be resampled away: the IQM stays in the middle
    tasks = [np.zeros(8), np.full(8, 10.0), np.array([5.0])]
    point, low, high = iqm.stratified_bootstrap_ci(tasks, samples=200)
    assert low <= point <= high
    assert np.isnan(iqm.stratified_bootstrap_ci([np.array([np.nan])])[0])
