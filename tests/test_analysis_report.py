"""End to end through the `rlscale` commands: analyze a synthetic rlscale sweep, propose, and
degrade gracefully on bad input (no runs, missing metric, one σ, unreachable threshold)."""

import json

import pytest
import yaml

from rlscale.analysis import synthetic
from rlscale.cli import main

RECIPE = """\
normalize: {jax:pendulum: {min: -1500.0, max: 0.0}}
thresholds: {values: [500.0, 650.0, 800.0]}
bootstrap: {samples: 20}
budget: {delta: 1.0e+9, holdout_top_k: 1}
report: {iqm_bootstrap_samples: 200}
"""


def _main(*argv: str) -> int:
    return main([str(a) for a in argv])


def _sweep(root, utds):
    runs = synthetic.SyntheticRuns(seeds=3, steps=40_000, eval_every=2000)
    frame = synthetic.sweep_frame(
        synthetic.SyntheticLaw(), utds, [128.0, 256.0], [3e-4, 1e-3], runs
    )
    return synthetic.write_sweep(frame, root)


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    path = tmp_path_factory.mktemp("recipe") / "test.yaml"
    path.write_text(RECIPE)
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory, recipe):
    root = tmp_path_factory.mktemp("runs")
    sweep = _sweep(root / "sweep", [1.0, 2.0, 4.0])
    out = root / "report"
    code = _main("analyze", sweep, "--recipe", recipe, "--out", out)
    return code, out


def test_analyze_writes_fits_tables_plots_and_index(report):
    code, out = report
    assert code == 0
    assert (out / "index.html").read_text().count("<figure>") >= 5
    for name in (
        "data_to_threshold",
        "best_batch_size",
        "proposed_hyperparameters",
        "data_efficiency_fits",
        "frontier_points",
        "budget_optima",
        "iqm_final_return",
    ):
        assert (out / "tables" / f"{name}.csv").exists(), name
        assert (out / "tables" / f"{name}.parquet").exists(), name
    assert {p.stem.split("_N")[0] for p in (out / "plots").glob("*.png")} >= {
        "learning_curves",
        "hyperparameters",
        "data_efficiency",
        "frontier",
        "iqm",
    }


def test_fits_json_has_every_parameter_with_a_ci(report):
    """Catches: D_J(σ) parameters written without their bootstrap CI (null), a CI that does not
    bracket its estimate (the percentile bounds swapped), B*(σ) rising with σ."""
    fits = json.loads((report[1] / "fits.json").read_text())
    (size,) = fits["p1"]
    assert size["compute"]["source"] == "flops"  # the runs logged compute/flops_per_update
    batch = size["hyperparameters"]["batch_size"]["slope"]["jax:pendulum"]
    assert -0.7 < batch["value"] < -0.05 and batch["ci_low"] <= batch["value"] <= batch["ci_high"]
    top = size["data_efficiency"][-1]["params"]
    # This sweep's J = 800 fit sees only σ = 2 and 4 (σ = 1 needs D(1) = 5e4 > 4e4 steps), so its
    # α is not identified; how well α is recovered is checked on an identifying sweep below.
    assert top["D_min"]["ci_low"] is not None
    assert top["alpha"]["ci_low"] <= top["alpha"]["value"] <= top["alpha"]["ci_high"]
    assert {"coefficient", "exponent", "holdout", "ci"} <= set(size["budget"])


UTDS = [1.0, 2.0, 4.0, 8.0, 16.0]


def test_data_efficiency_fit_recovers_the_synthetic_law(tmp_path):
    """D_J(σ) at J = 800 (the law's reference) on runs at the true B*(σ), η*(σ) and at 4 B*(σ),
    evals every 500 steps, noise 5 (of 1000): α = 0.8, D_min = 2e4 and D(σ) recovered.

    Tolerances: over 12 noise seeds this sweep gave α 0.75-0.87, D_min 1.93e4-2.14e4 and D(σ)
    within 3% (95% bootstrap CIs about ±0.06 on α); ±20%, ±15% and ±5% leave ~2x that spread.
    Catches: α reported as -a or as b (the paper-form conversion mis-signed or taken from the
    wrong column), the fitted power law's exponent mis-signed, D_min = c without the median
    scale m, β = b m^(-1/a) (D(σ) off by orders of magnitude), D_J fitted on the slowest config
    of each σ instead of the fastest.
    """
    law = synthetic.SyntheticLaw()
    for seed, utd in enumerate(UTDS):
        runs = synthetic.SyntheticRuns(
            seeds=3, steps=60_000, eval_every=500, noise=5.0, rng_seed=seed
        )
        best = law.b_one * utd**law.b_slope  # and 4 B*: 1 + 0.3 ln(4)^2 = 1.58x the data
        frame = synthetic.sweep_frame(
            law, [utd], [best, 4 * best], [law.lr_one * utd**law.lr_slope], runs
        )
        synthetic.write_sweep(frame, tmp_path / "sweep")
    out, light = tmp_path / "report", tmp_path / "r.yaml"
    light.write_text(RECIPE.replace("iqm_bootstrap_samples: 200", "iqm_bootstrap_samples: 10"))
    assert _main("analyze", tmp_path / "sweep", "--recipe", light, "--out", out) == 0
    (size,) = json.loads((out / "fits.json").read_text())["p1"]
    top = size["data_efficiency"][-1]
    assert top["info"]["threshold"] == 800.0 and top["info"]["utd"] == UTDS
    p = {name: v["value"] for name, v in top["params"].items()}
    assert p["alpha"] == pytest.approx(law.alpha, rel=0.2)  # 0.8
    assert p["D_min"] == pytest.approx(law.d_min, rel=0.15)  # 2e4
    # D(σ) = 2e4 + 3e4 σ^-0.8: 5e4, 3.72e4, 2.99e4, 2.57e4, 2.33e4 at σ = 1 .. 16
    for utd in UTDS:
        fitted = p["D_min"] + (p["beta"] / utd) ** p["alpha"]
        assert fitted == pytest.approx(law.data(utd), rel=0.05), utd


def test_propose_writes_a_ready_to_run_sweep_spec(report, tmp_path):
    out = tmp_path / "proposed.yaml"
    assert (
        _main("propose", "--fits", report[1] / "fits.json", "--budget", "1e14", "--out", out) == 0
    )
    spec = yaml.safe_load(out.read_text())
    assert spec["name"] == "proposed-1e14" and spec["env"] == "jax:pendulum"
    assert spec["agent"] == {"preset": "sac", "overrides": {}}
    assert set(spec["grid"]) == {"utd", "batch_size", "learning_rate"}
    assert spec["grid"]["batch_size"][0] % 16 == 0
    assert spec["budget"]["env_steps"] > 0 and spec["seeds"] == 5


def test_no_runs_gives_a_message_and_still_an_index(tmp_path, capsys):
    assert _main("analyze", tmp_path, "--out", tmp_path / "report") == 1
    assert "no runs under" in capsys.readouterr().out
    assert "no runs under" in (tmp_path / "report" / "index.html").read_text()


def test_missing_metric_is_named(tmp_path, capsys):
    sweep = _sweep(tmp_path / "sweep", [1.0])
    recipe = tmp_path / "r.yaml"
    recipe.write_text("metric: eval/success\n")
    assert _main("analyze", sweep, "--recipe", recipe, "--out", tmp_path / "report") == 1
    assert "metric 'eval/success' is not in the runs" in capsys.readouterr().out


def test_one_utd_and_unreachable_threshold_still_render(tmp_path, capsys):
    sweep = _sweep(tmp_path / "sweep", [2.0])
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "thresholds: {values: [500.0, 999.0]}\nbootstrap: {samples: 5}\n"
        "report: {iqm_bootstrap_samples: 50}\n"
    )
    assert _main("analyze", sweep, "--recipe", recipe, "--out", tmp_path / "report") == 0
    printed = capsys.readouterr().out
    assert "J=999 (jax:pendulum) was never reached by any config" in printed
    assert "D_J(σ) needs at least 2 σ values" in printed
    assert "batch_size*: no config reached the selection threshold" in printed  # J = 999
    assert (tmp_path / "report" / "tables" / "data_to_threshold.csv").exists()
    assert (tmp_path / "report" / "plots" / "learning_curves.png").exists()


def test_unknown_recipe_key_is_an_error_before_loading(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("thresholdz: {values: [1]}\n")
    assert _main("analyze", tmp_path, "--recipe", recipe) == 2
    assert "rlscale analyze: error:" in (err := capsys.readouterr().err)  # stderr, one line
    assert "unknown key 'thresholdz'" in err
