"""Data to threshold: isotonic crossing, no interpolation, NaN/never-reached cases, bootstrap."""

import numpy as np
import pandas as pd
import pytest

from rlscale.analysis import threshold
from rlscale.analysis.threshold import Curve

CONFIG = {
    "env": "e",
    "utd": 1.0,
    "batch_size": 256.0,
    "learning_rate": 1e-3,
    "critic_width": 256.0,
    "critic_params": 5e4,
    "variant": "",
}


def test_isotonic_matches_pool_adjacent_violators_by_hand():
    # 500, 400 violate monotonicity and are pooled to their mean 450
    np.testing.assert_allclose(
        threshold.isotonic(np.array([0.0, 500, 400, 900])), [0, 450, 450, 900]
    )


def test_crossing_is_first_logged_step_without_interpolation():
    steps = np.array([0.0, 10, 20, 30])
    smoothed = np.array([0.0, 450, 450, 900])
    # J=300 lies between the logs at 0 and 10: the answer is 10, not the interpolated 6.67
    times = threshold.first_crossing(steps, smoothed, np.array([300, 450, 460, 950]))
    np.testing.assert_array_equal(times, [10, 10, 30, np.inf])


def test_a_dip_does_not_count_once_smoothed():
    # raw curve touches 600 at step 10 then falls; isotonic pools (600, 200) to 400 < 500
    curve = Curve(CONFIG, np.array([0.0, 10, 20, 30]), np.array([[0.0], [600], [200], [700]]))
    times = threshold.curve_crossings(curve, np.array([500.0]), 0, np.random.default_rng(0))
    assert times[0, 0] == 30


def test_nan_seeds_are_left_out_of_the_mean_and_all_nan_steps_dropped():
    returns = np.array([[0.0, 0.0], [100.0, np.nan], [np.nan, np.nan], [900.0, np.nan]])
    curve = Curve(CONFIG, np.array([0.0, 10, 20, 30]), returns)
    times = threshold.curve_crossings(curve, np.array([100.0, 800.0]), 0, np.random.default_rng(0))
    np.testing.assert_array_equal(times[0], [10, 30])


def _tidy(values_by_seed, status=None):
    rows = []
    for seed, values in enumerate(values_by_seed):
        for step, value in enumerate(values):
            rows.append(
                {
                    **CONFIG,
                    "agent": "sac",
                    "seed": seed,
                    "env_steps": 10.0 * step,
                    "updates": np.nan,
                    "metric": "eval/return",
                    "value": value,
                    "status": (status or {}).get(seed, "done"),
                }
            )
    return pd.DataFrame(rows)


def test_diverged_run_is_frozen_at_its_last_value():
    # seed 1 diverged after step 10: it stays in the mean with its last value (0)
    tidy = _tidy([[0, 500, 1000, 1000], [0, 0]], status={1: "diverged"})
    (curve,) = threshold.make_curves(tidy, "eval/return")
    np.testing.assert_array_equal(curve.returns[:, 1], [0, 0, 0, 0])
    times = threshold.curve_crossings(curve, np.array([500.0]), 0, np.random.default_rng(0))
    assert times[0, 0] == 20  # mean (1000 + 0) / 2 = 500 at step 20


def test_never_reached_is_inf_and_summarised_as_unreached():
    tidy = _tidy([[0, 100, 200], [0, 120, 210]])
    curves = threshold.make_curves(tidy, "eval/return")
    crossings = threshold.crossing_frame(curves, lambda env: np.array([150.0, 900.0]), samples=10)
    point = crossings[crossings["sample"] == threshold.POINT_ESTIMATE]
    assert point["time"].tolist() == [20.0, np.inf]
    table = threshold.summarize(crossings)
    assert table.loc[table["threshold"] == 900.0, "reached_fraction"].item() == 0.0
    assert np.isnan(table.loc[table["threshold"] == 900.0, "time_boot_mean"].item())


def test_missing_metric_gives_no_curves():
    assert threshold.make_curves(_tidy([[0, 1]]), "critic/loss") == []


def test_reset_mask_drops_post_reset_dip_until_recovery():
    steps = np.arange(0.0, 80, 10)
    mean = np.array([100, 200, 300, 50, 150, 320, 400, 500.0])
    # σ = 2, resets every 60 updates = every 30 env steps: the dip at 30, 40 is dropped
    keep = threshold.reset_mask(steps, mean, utd=2.0, reset_every_updates=60.0)
    np.testing.assert_array_equal(keep, [1, 1, 1, 0, 0, 1, 1, 1])


def test_best_times_takes_the_fastest_config_row_intact():
    crossings = pd.DataFrame(
        {
            **{k: [v, v] for k, v in CONFIG.items()},
            "batch_size": [128.0, 256.0],
            "learning_rate": [np.nan, 3e-4],
            "sample": [-1, -1],
            "threshold_index": [0, 0],
            "threshold": [500.0, 500.0],
            "time": [30.0, 20.0],
        }
    )
    best = threshold.best_times(crossings)
    assert best[["batch_size", "learning_rate", "time"]].values.tolist() == [[256.0, 3e-4, 20.0]]


@pytest.fixture(scope="module")
def coverage_runs():
    """30 independent 8-seed experiments on the same noisy curve family."""
    rng = np.random.default_rng(1)
    steps = np.arange(0.0, 20_001, 250)
    truth_tau = 6000.0
    # crossing of the population-mean curve (many seeds), at the eval resolution
    population = truth_tau * np.exp(rng.normal(0.0, 0.15, 20_000))
    expected_mean = np.mean(1000 * (1 - np.exp(-steps[:, None] / population[None, :])), axis=1)
    truth = steps[np.argmax(expected_mean >= 700.0)]
    covered = []
    for _ in range(30):
        taus = truth_tau * np.exp(rng.normal(0.0, 0.15, 8))
        returns = 1000 * (1 - np.exp(-steps[:, None] / taus[None, :]))
        returns += rng.normal(0.0, 15.0, returns.shape)
        curve = Curve(CONFIG, steps, returns)
        times = threshold.curve_crossings(curve, np.array([700.0]), 200, rng)[1:, 0]
        low, high = np.percentile(times, [2.5, 97.5])
        covered.append(low - 250 <= truth <= high + 250)
    return np.array(covered)


def test_bootstrap_interval_covers_the_truth_in_most_repetitions(coverage_runs):
    # a nominal 95% interval on a 250-step grid: allow slack, but most runs must cover
    assert coverage_runs.mean() >= 0.8
