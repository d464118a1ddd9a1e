"""Held-out test (`rlscale reproduce` step 4) on synthetic sweeps of known D(σ), B*(σ), η*(σ)."""

import numpy as np
import pandas as pd
import pytest

from rlscale.analysis import heldout, load, pipeline
from rlscale.analysis.recipe import Recipe
from rlscale.analysis.synthetic import SyntheticLaw, SyntheticRuns, sweep_frame, write_sweep

LAW = SyntheticLaw(d_min=4e3, beta=2e4 ** (1 / 0.9), alpha=0.9, reference=800.0)
RUNS = SyntheticRuns(seeds=5, steps=40_000, eval_every=250, noise=10.0)
FIT_UTDS = [1.0, 2.0, 4.0]
RECIPE = Recipe.model_validate(
    {
        "thresholds": {"values": [600.0, 700.0, 800.0]},
        "bootstrap": {"samples": 30},
        "report": {"iqm_bootstrap_samples": 10},
    }
)


def tidy(frame: pd.DataFrame, root) -> pd.DataFrame:
    return load.load(write_sweep(frame, root))


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    frame = sweep_frame(LAW, FIT_UTDS, [64.0, 128.0, 256.0], [2.5e-4, 5e-4, 1e-3], RUNS)
    frame = tidy(frame, tmp_path_factory.mktemp("grid"))
    return frame, pipeline.run(frame, RECIPE)


@pytest.fixture(scope="module")
def test_result(grid, tmp_path_factory):
    frame, analysis = grid
    configs = heldout.fitted_configs(analysis, [*FIT_UTDS, 8.0], batch_multiple=16)
    batch, rate = heldout.baseline_config(analysis, 2.0, -1)
    configs += [heldout.Config(heldout.BASELINE, u, batch, rate) for u in [*FIT_UTDS, 8.0]]
    fitted = [
        sweep_frame(LAW, [c.utd], [c.batch_size], [c.learning_rate], RUNS)
        for c in configs
        if c.role == heldout.FITTED or c.utd == 8.0
    ]
    second = tidy(pd.concat(fitted, ignore_index=True), tmp_path_factory.mktemp("fitted"))
    return configs, heldout.run(
        heldout.crossings(second, RECIPE),
        heldout.crossings(frame, RECIPE),
        configs,
        FIT_UTDS,
        RECIPE,
        flops_per_sample=1.0,
    )


def test_predicted_hyperparameters_follow_the_true_slopes(test_result):
    configs, _ = test_result
    fitted = {c.utd: c for c in configs if c.role == heldout.FITTED}
    assert fitted[8.0].batch_size < fitted[1.0].batch_size  # B* shrinks with σ (b_slope < 0)
    assert fitted[8.0].learning_rate < fitted[1.0].learning_rate
    true_lr = LAW.lr_one * 8.0**LAW.lr_slope
    assert fitted[8.0].learning_rate == pytest.approx(true_lr, rel=0.35)


def test_baseline_is_the_grid_best_at_sigma_2_reused_at_every_sigma(test_result, grid):
    configs, _ = test_result
    baseline = {(c.batch_size, c.learning_rate) for c in configs if c.role == heldout.BASELINE}
    assert len(baseline) == 1
    ((batch, rate),) = baseline
    table = grid[1].tables["data_to_threshold"]
    at_two = table[(table.utd == 2.0) & (table.threshold_index == 2)]
    assert at_two.loc[at_two.time.idxmin(), "time"] == pytest.approx(
        at_two[(at_two.batch_size == batch) & (at_two.learning_rate == rate)].time.iloc[0]
    )


def test_held_out_data_to_threshold_is_predicted_from_the_fit_set_only(test_result):
    _, result = test_result
    rows = result.comparison
    assert sorted(rows.utd.unique()) == [8.0] and len(rows) == 3
    top = rows[rows.threshold == 800.0].iloc[0]
    # the fit never saw σ = 8: its prediction matches the law up to eval spacing and noise
    assert top.predicted == pytest.approx(LAW.data(8.0), rel=0.1)
    assert top.measured == pytest.approx(LAW.data(8.0), rel=0.1)
    assert top.relative_error == pytest.approx(top.predicted / top.measured - 1.0)
    assert top.predicted_ci_low <= top.predicted <= top.predicted_ci_high
    # the constant baseline is off-optimal at σ = 8, so it needs more data there
    assert top.baseline_over_fitted > 1.0
    assert np.isfinite(result.points["compute"]).all()


def test_two_envs_are_refused_with_a_reason():
    two = pipeline.Analysis(RECIPE, meta={"envs": ["a", "b"]})
    with pytest.raises(heldout.AnalysisError, match="one env"):
        heldout.fitted_configs(two, [8.0], 16)
