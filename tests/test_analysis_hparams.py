"""Best B*/η* per σ: bootstrap argmin averaging, shared-slope log-log fits, qscaled rounding."""

import numpy as np
import pandas as pd
import pytest

from rlscale.analysis import hparams
from rlscale.analysis.errors import AnalysisError


def _crossings(times: dict) -> pd.DataFrame:
    """times[(utd, batch, lr, sample)] = env steps, for env "e" at one threshold."""
    rows = [
        {
            "env": "e",
            "utd": u,
            "batch_size": b,
            "learning_rate": lr,
            "sample": s,
            "critic_params": 1.0,
            "threshold_index": 0,
            "time": t,
        }
        for (u, b, lr, s), t in times.items()
    ]
    return pd.DataFrame(rows)


def test_bootstrap_best_averages_argmins_over_samples_and_other_hparam():
    times = {
        # lr 1e-3: B=128 best in samples -1, 0; B=256 best in sample 1
        (1.0, 128, 1e-3, -1): 10,
        (1.0, 256, 1e-3, -1): 20,
        (1.0, 128, 1e-3, 0): 10,
        (1.0, 256, 1e-3, 0): 20,
        (1.0, 128, 1e-3, 1): 30,
        (1.0, 256, 1e-3, 1): 20,
        # lr 3e-3: B=128 never reaches J (inf) so B=256 wins every sample
        (1.0, 128, 3e-3, -1): np.inf,
        (1.0, 256, 3e-3, -1): 40,
        (1.0, 128, 3e-3, 0): np.inf,
        (1.0, 256, 3e-3, 0): 40,
        (1.0, 128, 3e-3, 1): np.inf,
        (1.0, 256, 3e-3, 1): 40,
    }
    best = hparams.bootstrap_best(_crossings(times), "batch_size")
    table = hparams.best_table(best, "batch_size")
    # bootstrap mean over (lr, sample) pairs: (128 + 256 + 256 + 256) / 4
    assert table["best_batch_size_bootstrap_mean"].item() == pytest.approx(224.0)
    assert table["best_batch_size_grid"].item() == pytest.approx((128 + 256) / 2)


def test_single_value_or_nothing_reached_is_a_clear_error():
    single = _crossings({(1.0, 128, 1e-3, -1): 10, (2.0, 128, 1e-3, -1): 10})
    with pytest.raises(AnalysisError, match="single value"):
        hparams.bootstrap_best(single, "batch_size")
    unreached = _crossings({(1.0, 128, 1e-3, -1): np.inf, (1.0, 256, 1e-3, -1): np.inf})
    with pytest.raises(AnalysisError, match="no config reached"):
        hparams.bootstrap_best(unreached, "batch_size")


def _table(slope, intercepts, utds=(1.0, 2.0, 4.0, 8.0)):
    rows = [
        {"env": env, "utd": u, "target": 10 ** (slope * np.log10(u) + c)}
        for env, c in intercepts.items()
        for u in utds
    ]
    return pd.DataFrame(rows)


def test_shared_slope_fit_recovers_slope_and_per_env_intercepts():
    table = _table(-0.31, {"Ant": 2.619, "Hopper": 2.4, "Walker": 2.5})
    fit = hparams.fit_loglog(table, "target", shared=True)
    assert list(fit.slope.values()) == pytest.approx([-0.31] * 3)
    assert fit.intercept == pytest.approx({"Ant": 2.619, "Hopper": 2.4, "Walker": 2.5})
    assert fit.predict("Ant", 1.0) == pytest.approx(10**2.619)


def test_shared_slope_with_noise_is_the_pooled_ols_slope():
    rng = np.random.default_rng(0)
    table = _table(-0.3, {"a": 2.0, "b": 3.0}, utds=tuple(2.0 ** np.arange(-2, 5)))
    table["target"] *= 10 ** rng.normal(0, 0.02, len(table))
    fit = hparams.fit_loglog(table, "target")
    assert fit.slope["a"] == pytest.approx(-0.3, abs=0.03)


def test_separate_fit_drops_the_largest_utd_like_qscaled():
    table = _table(-0.5, {"a": 2.0})
    table.loc[table["utd"] == 8.0, "target"] = 1e6  # an outlier at the largest σ is ignored
    fit = hparams.fit_loglog(table, "target", shared=False)
    assert fit.slope["a"] == pytest.approx(-0.5)
    with pytest.raises(AnalysisError, match="3\\+ σ"):
        hparams.fit_loglog(_table(-0.5, {"a": 2.0}, utds=(1.0, 2.0)), "target", shared=False)


def test_fewer_than_two_utds_is_a_clear_error():
    with pytest.raises(AnalysisError, match="fewer than 2 σ"):
        hparams.fit_loglog(_table(-0.3, {"a": 2.0}, utds=(1.0,)), "target")


@pytest.mark.parametrize(
    ("batch", "expected"),
    [(415.85, 416), (136.8, 128), (680.28, 672), (232.6, 224), (638.2, 640), (5.0, 16)],
)
def test_round_batch_matches_qscaled_tables(batch, expected):
    # truncate to int, then numpy's half-to-even rounding of B/16 (136/16 = 8.5 -> 8)
    assert hparams.round_batch(batch) == expected


def test_proposal_table_has_qscaled_columns():
    batch = hparams.HparamFit("b", {"Ant": -0.3096}, {"Ant": 2.6189})
    rate = hparams.HparamFit("lr", {"Ant": -0.2849}, {"Ant": -3.8229})
    table = hparams.proposal_table(batch, rate, [1.0])
    assert list(table.columns) == list(hparams.TABLE_COLUMNS)
    row = table.iloc[0]
    assert (row["Batch Size"], row["Batch Size(rounded)"]) == (415, 416)
    assert row["Learning Rate"] == pytest.approx(1.50e-4)
