"""P2 pooled across tasks (`p2.pool: median_normalized`): the median-normalised table by hand, and a
known pooled law recovered through the whole pipeline (run selection, misses at the top threshold).

Tolerances: times are rounded to whole env steps (relative error < 1e-5), so the pooled table is
checked to 1e-4 relative and the fitted parameters of D(σ, N) to 1e-3 relative.
"""

import itertools

import numpy as np
import pandas as pd
import pytest

from rlscale.analysis import load, pooled, stages, status, threshold
from rlscale.analysis.recipe import Recipe

TRUTH = {"a": 2.0, "alpha": 0.7, "b": 1e6, "beta": 0.6, "D_min": 1e5}
WIDTHS = {128: 1e5, 256: 4e5, 512: 1.6e6, 1024: 6.4e6}
UTDS = (1.0, 2.0, 4.0, 8.0)
LEVELS = (0.4, 0.6, 0.8, 1.0)  # crossing time of threshold i = level_i · scale_task · D(σ, N)
SCALES = {"fast": 1.0, "mid": 3.0, "slow": 10.0}  # task medians 1 : 3 : 10
# each task misses its top threshold at one slow config (all above every task's median)
MISSES = {"fast": (1.0, 128), "mid": (1.0, 256), "slow": (2.0, 128)}
JS = (200.0, 400.0, 600.0, 800.0)


def _law(utd, params):
    t = TRUTH
    return t["D_min"] * (1 + (t["a"] / utd) ** t["alpha"] + (t["b"] / params) ** t["beta"])


def _rows(env, utd, width, params, crossings, seed=0):
    """One run whose return steps up to JS[i] at env step crossings[i] (no interpolation)."""
    steps = np.unique(np.r_[np.arange(0.0, 3e7, 2e5), crossings])
    value = np.zeros(len(steps))
    for level, step in zip(JS, crossings, strict=False):
        value[steps >= step] = level
    return pd.DataFrame(
        {
            "env": env,
            "utd": utd,
            "batch_size": 256.0,
            "learning_rate": 3e-4,
            "critic_width": float(width),
            "critic_params": params,
            "variant": "",
            "agent": "bro",
            "seed": seed,
            "env_steps": steps,
            "updates": np.nan,
            "metric": "eval/return",
            "value": value,
            "status": "done",
        }
    )


def _tidy() -> tuple[pd.DataFrame, dict]:
    frames, generated = [], {}
    for env, scale in SCALES.items():
        for utd, (width, params) in itertools.product(UTDS, WIDTHS.items()):
            times = [round(level * scale * _law(utd, params)) for level in LEVELS]
            if MISSES[env] == (utd, width):
                times = times[:-1]
            generated[env] = generated.get(env, []) + times
            frames += [_rows(env, utd, width, params, times, seed) for seed in (0, 1)]
            # σ = 16 runs that cross at once: kept, they would break the law; `where` drops them
        frames += [_rows(env, 16.0, 128, 1e5, [1e3, 2e3, 3e3, 4e3], seed) for seed in (0, 1)]
    return pd.concat(frames, ignore_index=True)[list(load.TIDY_COLUMNS)], generated


@pytest.fixture(scope="module")
def run():
    tidy, generated = _tidy()
    recipe = Recipe.model_validate(
        {
            "normalize": {},
            "select": {"where": "utd < 16"},
            "thresholds": {"values": list(JS)},
            "p2": {"enabled": True, "pool": "median_normalized", "threshold": "last"},
        }
    )
    # the pipeline's stages up to the P2 times; P1 and the per-env P2 fits are left out for time
    prepared = stages.prepare(tidy, recipe).result
    crossings = threshold.crossing_frame(prepared.curves, prepared.recipe.thresholds_for, 3, 0)
    staged = pooled.run(threshold.best_times(crossings), prepared.recipe)
    return staged, generated


def test_table_and_medians_by_hand():
    """Two tasks, one width whose N differs between them (1e5, 1.02e5: the cell's N is 1.01e5).
    A: 100, 50, 200 and a miss -> median 100. B: 300, 100, 500, 400 -> median 350. m = 225.
    Catches: a miss counted as +inf or 0 in the median, tasks pooled by N instead of width, the
    std computed where a task misses, or the mean over all tasks instead of those that reached."""
    cells = [(1.0, 0), (2.0, 0), (1.0, 1), (2.0, 1)]
    times = {"A": [100.0, 50.0, 200.0, np.nan], "B": [300.0, 100.0, 500.0, 400.0]}
    frame = pd.DataFrame(
        [
            {
                "env": env,
                "utd": utd,
                "critic_width": 128.0,
                "critic_params": 1e5 if env == "A" else 1.02e5,
                "threshold_index": index,
                "time": value,
            }
            for env, values in times.items()
            for (utd, index), value in zip(cells, values, strict=True)
        ]
    )
    assert pooled.task_medians(frame).to_dict() == {"A": 100.0, "B": 350.0}
    table = pooled.normalized_times(frame).set_index(["utd", "threshold_index"])
    assert (table["median"] == 225.0).all() and (table["critic_params"] == 1.01e5).all()
    # (σ=1, i=0): ratios 100/100 = 1 and 300/350 = 6/7: mean 13/14, std 1/14
    assert table.loc[(1.0, 0), "time"] == pytest.approx(225 * 13 / 14)
    assert table.loc[(1.0, 0), "time_std"] == pytest.approx(225 / 14)
    # (σ=2, i=1): A missed, so B alone: 225 · 400/350; no std
    assert table.loc[(2.0, 1), "time"] == pytest.approx(225 * 8 / 7)
    assert np.isnan(table.loc[(2.0, 1), "time_std"]) and table.loc[(2.0, 1), "tasks"] == 1


def test_task_medians_match_the_generated_times(run):
    """The median of each task's own crossings, misses left out and the σ = 16 runs excluded."""
    staged, generated = run
    result, _ = staged.result
    medians = result.task_medians
    for env, times in generated.items():
        assert medians[env] == pytest.approx(np.median(times), rel=1e-12)
    assert result.median == pytest.approx(np.median(generated["mid"]))


def test_pooled_table_is_the_law_at_the_median_task_scale(run):
    """Every task misses one slow cell above its median, so all task medians are the same order
    statistic times their scale and pooled time = median scale (3) · level · D(σ, N), exactly,
    also where one task missed. Catches: the median over the tasks' means instead of their
    medians, a missed cell dropped or counted as 0."""
    staged, _ = run
    ((name, table),) = staged.tables
    assert name == "p2_pooled_time"
    assert len(table) == len(UTDS) * len(WIDTHS) * len(LEVELS) and 16.0 not in set(table["utd"])
    expected = (
        3.0
        * np.array(LEVELS)[table["threshold_index"]]
        * _law(table["utd"], table["critic_params"])
    )
    np.testing.assert_allclose(table["time"], expected, rtol=1e-4)
    missed = table["tasks"] < 3
    assert missed.sum() == 3 and table.loc[missed, "time_std"].isna().all()
    assert (table.loc[~missed, "time_std"] < 1e-4 * table.loc[~missed, "time"]).all()


def test_pooled_and_shared_fits_recover_the_law(run):
    """Catches: the pooled fit on raw (unnormalised) times, exponents not shared in physical
    units (σ, N rescaled per env), or D_min of one env's scale given to another."""
    staged, _ = run
    result, shared_result = staged.result
    assert set(result.data_efficiency) == {3}  # threshold: last
    top = result.data_efficiency[3]
    assert top.status == status.OK, top.status_reason
    for name, value in TRUTH.items():
        scale = 3.0 if name == "D_min" else 1.0
        assert top.params[name] == pytest.approx(scale * value, rel=1e-3), name
    ols = result.ols[3].params
    assert ols["c1"] < 0 and ols["c2"] < 0
    shared = shared_result.data_efficiency[3]
    assert shared.status == status.OK, shared.status_reason
    assert shared.params["alpha"] == pytest.approx(TRUTH["alpha"], rel=1e-3)
    assert shared.params["beta"] == pytest.approx(TRUTH["beta"], rel=1e-3)
    for env, scale in SCALES.items():
        d_min = shared.params[f"D_min[{env}]"]
        assert d_min == pytest.approx(scale * TRUTH["D_min"], rel=1e-3), env
        assert shared.params[f"b[{env}]"] == pytest.approx(TRUTH["b"], rel=1e-3)


def test_a_law_without_an_n_effect_is_not_ok():
    """Times that do not depend on N: b and β are not identified by the pooled table."""
    grid = itertools.product(UTDS, WIDTHS.values())
    rows = pd.DataFrame(
        [{"utd": u, "critic_params": n, "time": 1e5 * (1 + 2 / u)} for u, n in grid]
    )
    fit, baseline, _ = pooled.fit_threshold(rows, [], log_loss=True, ci=0.95)
    assert fit.status != status.OK
    assert "b" in fit.status_reason or "beta" in fit.status_reason
    assert baseline.params["c2"] == pytest.approx(0.0, abs=1e-9)


def test_threshold_all_fits_every_index():
    """Catches: `p2.threshold: all` fitting only the last index (or `last` ignored: see above)."""
    tasks = {"fast": 1.0, "mid": 3.0}
    grid = itertools.product(tasks.items(), UTDS[:3], list(WIDTHS.items())[:3], (0, 1))
    times = pd.DataFrame(
        [
            {
                "env": env,
                "utd": utd,
                "critic_width": float(width),
                "critic_params": params,
                "threshold_index": index,
                "threshold": JS[index],
                "sample": threshold.POINT_ESTIMATE,
                "time": LEVELS[index] * scale * _law(utd, params),
            }
            for (env, scale), utd, (width, params), index in grid
        ]
    )
    recipe = Recipe.model_validate({"p2": {"pool": "median_normalized", "threshold": "all"}})
    result, shared = pooled.run(times, recipe).result
    assert set(result.data_efficiency) == {0, 1}
    assert set(shared.data_efficiency) == {0, 1}
    assert result.thresholds[1] == dict.fromkeys(tasks, JS[1])


def test_ols_baseline_recovers_a_log_linear_law():
    """D = e^12 · σ^-0.5 · N^-0.3 exactly. Catches: c1 and c2 swapped, or a fit in D not ln D."""
    grid = np.array(list(itertools.product(UTDS, WIDTHS.values())))
    utd, params = grid[:, 0], grid[:, 1]
    fit = pooled.ols(utd, params, np.exp(12.0) * utd**-0.5 * params**-0.3)
    assert [fit.params[c] for c in ("c0", "c1", "c2")] == pytest.approx([12.0, -0.5, -0.3])
    assert fit.status == status.OK
