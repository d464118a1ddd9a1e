"""Fit status (`ok`, `at_bound`, `unidentified`): the rules of `status.assess`, the physical domain
of the P1 and P2 fits, bootstrap refits that do not inherit the point estimate, and the report
(summary lines, dashed curves, curves only over the tested σ)."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from rlscale.analysis import (
    fits,
    frontier,
    hparams,
    load,
    p2,
    pipeline,
    plots,
    report,
    status,
    summary,
)
from rlscale.analysis.errors import AnalysisError
from rlscale.analysis.recipe import Recipe
from rlscale.analysis.synthetic import SyntheticLaw, SyntheticRuns, sweep_frame, write_sweep

UTDS = np.array([0.25, 0.5, 1, 2, 4, 8, 16.0])
DOMAINS = {
    "D_min": status.floor(1000.0),
    "alpha": status.exponent(),
    "b": status.scale(1.0, 8.0, "σ"),
}
GOOD = {"D_min": 500.0, "alpha": 0.8, "b": 2.0}


def _times(utd, time) -> pd.DataFrame:
    return pd.DataFrame(
        {"env": "e", "utd": utd, "threshold_index": 0, "threshold": 800.0, "time": time}
    )


def _samples(times: pd.DataFrame, count: int, noise: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.concat(
        [
            times.assign(sample=s, time=times["time"] * rng.lognormal(0, noise, len(times)))
            for s in range(count)
        ]
    )


# --- the rules ---------------------------------------------------------------------------------


def test_fewer_points_than_parameters_plus_one_is_unidentified():
    """Catches: the count rule without its +1 (3 points for 3 parameters passing as identified)."""
    assert status.assess(GOOD, DOMAINS, 3)[0] == status.UNIDENTIFIED
    assert "3 distinct points for 3 parameters" in status.assess(GOOD, DOMAINS, 3)[1]
    assert status.assess(GOOD, DOMAINS, 4) == (status.OK, "")


def test_a_flat_loss_along_one_parameter_is_unidentified():
    """Catches: the x2 and /2 profile test skipped, or its 1e-3 threshold compared the wrong way."""

    def refit(change_of_alpha):
        return lambda name, factor: 1.0 * (1 + (change_of_alpha if name == "alpha" else 0.5))

    state, reason = status.assess(GOOD, DOMAINS, 7, 1.0, refit(1e-4))
    assert state == status.UNIDENTIFIED and "alpha is multiplied by 2" in reason
    assert status.assess(GOOD, DOMAINS, 7, 1.0, refit(1e-2))[0] == status.OK
    # a refit that finds a clearly lower loss means the fit was not at an optimum
    lower = status.assess(GOOD, DOMAINS, 7, 1.0, lambda name, factor: 0.5)
    assert lower[0] == status.UNIDENTIFIED and "not at an optimum" in lower[1]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("D_min", 9.0, status.AT_BOUND),  # below 1% of the smallest observed D (1000)
        ("D_min", 0.0, status.AT_BOUND),
        ("D_min", 11.0, status.OK),
        ("alpha", 0.009, status.AT_BOUND),  # an exponent below 0.01
        ("alpha", 0.011, status.OK),
        ("b", 9.0e3, status.AT_BOUND),  # > 1e3x above the σ range [1, 8]
        ("b", 7.0e3, status.OK),
        ("b", 0.9e-3, status.AT_BOUND),  # > 1e3x below it
        ("b", 1.1e-3, status.OK),
    ],
)
def test_a_parameter_within_one_percent_of_its_domain_edge_is_at_bound(name, value, expected):
    """Catches: any of the three edge tests removed, or its 1% / 0.01 / 1e3x limit moved."""
    assert status.assess(GOOD | {name: value}, DOMAINS, 7)[0] == expected


def test_a_bootstrap_interval_reaching_an_edge_is_at_bound():
    """Catches: the intervals left out of the status (only the point estimate judged)."""
    ci = {"D_min": (200.0, 900.0), "alpha": (0.5, 1.1), "b": (1.5, 3.0)}
    assert status.assess(GOOD, DOMAINS, 7, ci=ci)[0] == status.OK
    state, reason = status.assess(GOOD, DOMAINS, 7, ci=ci | {"D_min": (0.0, 900.0)})
    assert state == status.AT_BOUND and "D_min's 95% interval [0, 900]" in reason
    # no finite refit of a parameter: no interval can be given
    assert status.assess(GOOD, DOMAINS, 7, ci={"alpha": (0.5, 1.1)})[0] == status.UNIDENTIFIED


def test_bootstrap_counts_the_refits_that_failed():
    """Catches: failed refits dropped silently instead of counted in the failed share."""

    def refit(value):
        if value == 1:
            raise AnalysisError("too few σ")
        return None if value == 2 else {"x": float(value)}

    boot = status.bootstrap(enumerate([0, 1, 2, 3]), refit)
    assert (boot.samples, boot.failed, boot.failed_share) == (4, 2, 0.5)
    assert boot.draws["x"].tolist() == [0.0, 3.0] and boot.info()["failed_share"] == 0.5


# --- P1 D_J(σ) -----------------------------------------------------------------------------------


def test_three_sigma_values_for_three_parameters_are_unidentified():
    """Catches: the count rule without its +1 — the fit passes exactly through 3 points, so the
    x2 profile alone finds the loss changing and would call it ok."""
    utd = np.array([1.0, 2.0, 4.0])
    (fit,) = fits.fit_data_efficiency(_times(utd, 2e4 + 3e4 / utd**0.8)).values()
    assert fit.status == status.UNIDENTIFIED
    assert fit.status_reason.startswith("3 distinct points for 3 parameters")


def test_data_flat_in_sigma_is_not_ok():
    """D does not depend on σ, so β (and α) are not identified. Catches: a status from the point
    count alone (7 σ values for 3 parameters), with no edge or flatness test. (With only the
    scale check removed the flatness test still flags it: seen `unidentified`.)"""
    rng = np.random.default_rng(1)
    (fit,) = fits.fit_data_efficiency(_times(UTDS, 5e4 * rng.lognormal(0, 0.02, 7))).values()
    assert fit.status != status.OK
    assert "b = β·m^(-1/α)" in fit.status_reason


def test_unconstrained_negative_d_min_is_clamped_to_zero_and_at_bound():
    """D = -1e4 + 5e4·σ^-0.5 exactly: qscaled's unconstrained fit returns D_min = -1e4. Catches:
    the c ≥ 0 bound dropped (D_min < 0), and the floor edge test removed (D_min = 0 then reads as
    not identified, or ok)."""
    (fit,) = fits.fit_data_efficiency(_times(UTDS, -1e4 + 5e4 * UTDS**-0.5)).values()
    assert fit.params["D_min"] >= 0.0 and fit.params["c"] >= 0.0
    assert fit.params["alpha"] > 0.0 and fit.params["b"] > 0.0
    assert fit.status == status.AT_BOUND
    assert fit.status_reason.startswith("D_min = 0 at its bound 0")


def test_degenerate_p1_fit_keeps_a_wide_interval():
    """Flat D(σ): the point fit squashes b to ~1e-5. Catches: bootstrap refits warm-started at the
    point estimate (they stay there: b's interval is then [0, 1e-3], false certainty)."""
    rng = np.random.default_rng(1)
    times = _times(UTDS, 5e4 * rng.lognormal(0, 0.02, 7))
    (fit,) = fits.fit_data_efficiency(times, _samples(times, 30, 0.05, 2)).values()
    assert fit.params["b"] < 1e-3  # the degenerate point estimate
    low, high = fit.ci["b"]
    assert high - low > 0.1
    assert fit.info["bootstrap"] == {"samples": 30, "failed": 0, "failed_share": 0.0}


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """A synthetic sweep of known D(σ) at 6 σ values; every config's crossing is at D(σ)."""
    law = SyntheticLaw(penalty=0.0)
    runs = SyntheticRuns(seeds=3, steps=100_000, eval_every=1000, noise=10.0)
    frame = sweep_frame(law, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0], [128.0, 256.0], [1e-3], runs)
    recipe = Recipe.model_validate(
        {
            "thresholds": {"values": [800.0]},
            "bootstrap": {"samples": 20},
            "report": {"iqm_bootstrap_samples": 20},
        }
    )
    tidy = load.load(write_sweep(frame, tmp_path_factory.mktemp("clean")))
    return law, pipeline.run(tidy, recipe)


def test_clean_synthetic_sweep_is_ok_and_recovers_the_truth(clean):
    """Truth D = 2e4 + (3.95e5/σ)^0.8 at J = 800; recovered within 5% (D_min, α) and 15% (β, which
    moves as m^(1/α)). Catches: the scale test applied to β in env-step units instead of b (β =
    3.9e5 is > 1e3x the σ range: a clean fit would read at_bound), or any over-eager rule."""
    law, analysis = clean
    (size,) = analysis.sizes
    fit = size.data_fits[0]
    assert fit.status == status.OK, fit.status_reason
    assert fit.params["D_min"] == pytest.approx(law.d_min, rel=0.05)
    assert fit.params["alpha"] == pytest.approx(law.alpha, rel=0.05)
    assert fit.params["beta"] == pytest.approx(law.beta, rel=0.15)
    assert size.hparams["batch_size"].status == status.OK
    assert fit.info["bootstrap"]["failed_share"] == 0.0


# --- P1 B*(σ), η*(σ) lines -----------------------------------------------------------------------


def test_hparam_line_through_as_many_points_as_parameters_is_unidentified():
    """1 env at 2 σ: slope and intercept pass through both points. Catches: the log-log lines left
    without a status, or judged without the point count."""
    table = pd.DataFrame({"env": "e", "utd": [1.0, 2.0], "y": [256.0, 200.0]})
    fit, _ = hparams.assess(hparams.fit_loglog(table, "y"), status.Refits(), 0.95)
    assert fit.status == status.UNIDENTIFIED and fit.to_json()["status"] == status.UNIDENTIFIED
    table = pd.DataFrame({"env": "e", "utd": [1.0, 2.0, 4.0], "y": [256.0, 200.0, 170.0]})
    assert (
        hparams.assess(hparams.fit_loglog(table, "y"), status.Refits(), 0.95)[0].status == status.OK
    )


# --- P2 -----------------------------------------------------------------------------------------


def _grid():
    utd, params = np.meshgrid([1.0, 2, 4, 8], [6e5, 2.3e6, 9.1e6, 3.6e7])
    return utd.ravel(), params.ravel()


def test_clean_p2_law_is_ok():
    """Catches: b (an N scale) judged against the σ range (1.09e6 > 8e3: at_bound)."""
    utd, params = _grid()
    truth = {"a": 0.37, "alpha": 0.85, "b": 1.09e6, "beta": 1.0, "D_min": 2.5e5}
    y = p2.sum_of_powerlaw(utd, params, *(truth[k] for k in ("a", "alpha", "b", "beta")), 2.5e5)
    y = y * np.random.default_rng(0).lognormal(0, 0.01, len(y))
    fit = p2.fit_law("sum_of_powerlaw", utd, params, y)
    assert fit.status == status.OK, fit.status_reason
    for name, value in truth.items():
        assert fit.params[name] == pytest.approx(value, rel=0.15), name


def test_p2_profile_multiplies_the_physical_parameter_by_two():
    """The flatness test moves a physical parameter x2 with the others refitted. Catches: the
    factor applied to the rescaled a, b directly (their physical value then moves by 2^(1/p))."""
    utd, params = _grid()
    y = p2.sum_of_powerlaw(utd, params, 0.37, 0.85, 1.09e6, 1.0, 2.5e5)
    y = y * np.random.default_rng(0).lognormal(0, 0.05, len(y))
    fit = p2.fit_p2("sum_of_powerlaw", utd, params, y)
    problem = p2._problem("sum_of_powerlaw", utd, params, y, True)
    for name in ("a", "alpha", "b", "beta", "D_min"):
        for factor in status.PROFILE_FACTORS:
            moved = problem.physical(problem.refit_fixed(fit.info["raw"], name, factor).x)
            assert moved[name] == pytest.approx(factor * fit.params[name], rel=1e-6), name


def test_degenerate_p2_fit_interval_is_not_inherited_from_the_point_estimate():
    """D does not depend on N: the point fit puts b at ~1e20 (the issue's α = 1689, b = 6.8e15
    case). Catches: refits warm-started at the point estimate's raw parameters — they never leave
    it and b's interval is [1.76e20, 1.76e20], zero width."""
    rng = np.random.default_rng(0)
    utd, params = _grid()
    y = 1e5 * (1 + (1.0 / utd) ** 0.8) * rng.lognormal(0, 0.05, len(utd))
    samples = [(i, (utd, params, y * rng.lognormal(0, 0.05, len(y)))) for i in range(20)]
    fit = p2.fit_law("sum_of_powerlaw", utd, params, y, samples=samples)
    assert fit.status != status.OK
    assert fit.params["b"] > 1e3 * params.max()  # degenerate
    low, high = fit.ci["b"]
    assert high / low > 10.0
    assert fit.info["bootstrap"]["samples"] == 20


# --- report -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def three_sigma(tmp_path_factory):
    """A sweep at 3 σ values: every D_J(σ) fit has at most 3 points for 3 parameters."""
    runs = SyntheticRuns(seeds=3, steps=40_000, eval_every=2000)
    frame = sweep_frame(SyntheticLaw(), [1.0, 2.0, 4.0], [128.0, 256.0], [3e-4, 1e-3], runs)
    recipe = Recipe.model_validate(
        {
            "thresholds": {"values": [500.0, 650.0, 800.0]},
            "bootstrap": {"samples": 10},
            "budget": {"delta": 1e9, "holdout_top_k": 1},
            "report": {"iqm_bootstrap_samples": 20},
        }
    )
    tidy = load.load(write_sweep(frame, tmp_path_factory.mktemp("three")))
    return pipeline.run(tidy, recipe)


def test_fits_json_and_summary_name_every_non_ok_fit(three_sigma, tmp_path):
    """Catches: a law's fits.json entry without a status, or a non-ok fit missing from the
    summary printed by `rlscale analyze`."""
    report.write_report(three_sigma, tmp_path)
    written = json.loads((tmp_path / "fits.json").read_text())
    (size,) = written["p1"]
    entries = [*size["data_efficiency"], *size["hyperparameters"].values()]
    assert entries and all(e["status"] in status.STATUSES for e in entries)
    assert all(e["status"] == status.UNIDENTIFIED for e in size["data_efficiency"])
    lines = summary.summary_lines(three_sigma)
    for entry in size["data_efficiency"]:
        assert any(
            line.startswith(f"  not ok: D_J(σ) J={entry['info']['threshold']:.1f}")
            and "unidentified (" in line
            and "distinct points for 3 parameters" in line
            for line in lines
        )


def test_non_ok_fits_are_dashed_and_curves_stay_in_the_fitted_range(three_sigma):
    """Catches: non-ok fits drawn solid, and a curve drawn (or a budget optimum sought) outside
    the σ values its fit was made on."""
    (_, figure, _), *_ = plots.data_efficiency(three_sigma)
    lines = [line for line in figure.axes[0].get_lines() if len(line.get_xdata()) > 10]
    assert lines and all(line.get_linestyle() == "--" for line in lines)
    (size,) = three_sigma.sizes
    for line, fit in zip(lines, size.data_fits.values(), strict=True):
        assert min(line.get_xdata()) >= min(fit.info["utd"]) * (1 - 1e-9)
        assert max(line.get_xdata()) <= max(fit.info["utd"]) * (1 + 1e-9)
    _, ax = plots.plt.subplots()
    plots._frontier_panel(
        ax,
        three_sigma.tables["frontier"],
        three_sigma.tables["budget_optima"],
        None,
        {i: f.status for i, f in size.data_fits.items()},
    )
    assert all(line.get_linestyle() == "--" for line in ax.get_lines())
    for index, rows in three_sigma.tables["frontier"].groupby("threshold_index"):
        used = size.data_fits[index].info["utd"]
        assert rows["utd"].min() >= min(used) * (1 - 1e-9)
        assert rows["utd"].max() <= max(used) * (1 + 1e-9)


def test_frontier_is_computed_only_inside_each_fits_sigma_range():
    """A threshold reached only at σ ∈ [2, 8] of a sweep over [1, 8]. Catches: the frontier grid
    spanning the whole sweep for every threshold (extrapolating to σ = 1)."""
    fit = fits.FitResult(
        "", {"a": 0.8, "b": 1.0, "c": 0.5, "m": 1e4}, info={"threshold": 800.0, "utd": [2, 4, 8]}
    )
    batch = frontier.constant_batch(256.0)
    curves = frontier.frontier({0: fit}, frontier.ComputeModel(1e5, batch, "formula"), (1, 8), 1e9)
    assert curves["utd"].min() == pytest.approx(2.0) and curves["utd"].max() == pytest.approx(8.0)
    no_record = fits.FitResult("", fit.params, info={"threshold": 800.0})
    assert frontier.fitted_range(no_record, (1.0, 8.0)) == (1.0, 8.0)
    assert math.isclose(frontier.fitted_range(fit, (4.0, 8.0))[0], 4.0)
