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
    fits = json.loads((report[1] / "fits.json").read_text())
    (size,) = fits["p1"]
    assert size["compute"]["source"] == "flops"  # the runs logged compute/flops_per_update
    batch = size["hyperparameters"]["batch_size"]["slope"]["jax:pendulum"]
    assert -0.7 < batch["value"] < -0.05 and batch["ci_low"] <= batch["value"] <= batch["ci_high"]
    top = size["data_efficiency"][-1]["params"]
    assert top["D_min"]["ci_low"] is not None and 0.3 < top["alpha"]["value"] < 1.6
    assert {"coefficient", "exponent", "holdout", "ci"} <= set(size["budget"])


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
