"""`linspace: [low, auto, count]` thresholds: J_max = floor(0.95 · q0.2(final isotonic return over
the selected runs) / 10) · 10 per env, resolved before anything uses a threshold and reported."""

import json

import numpy as np
import pandas as pd
import pytest

from rlscale.analysis import pipeline, report, summary, threshold, top
from rlscale.analysis.errors import AnalysisError
from rlscale.analysis.recipe import Recipe, Thresholds, load_recipe

STEPS = np.arange(1.0, 11.0) * 1000


def _tidy(finals: dict[str, list[float]], dip_env: str | None = None) -> pd.DataFrame:
    """Per env one config per final value (σ = 1, 2, ...; 2 seeds): a ramp from 0 to `final`.

    In `dip_env` the last eval of every run is a post-reset dip to 0 (a recorded reset there).
    """
    rows = []
    for env, values in finals.items():
        for i, final in enumerate(values):
            curve = final * STEPS / STEPS[-1]
            counts = np.zeros(len(STEPS))
            if env == dip_env:
                curve = np.append(curve[1:], 0.0)  # reaches `final` one eval earlier, then dips
                counts[-1] = 1
            for seed in (0, 1):
                for metric, values_ in (("eval/return", curve), ("run/resets", counts)):
                    rows += [
                        {
                            "env": env,
                            "utd": float(i + 1),
                            "batch_size": 256.0,
                            "learning_rate": 3e-4,
                            "critic_width": 512.0,
                            "critic_params": 1e6 * (i + 1),
                            "variant": "",
                            "agent": "bro",
                            "seed": seed,
                            "env_steps": step,
                            "updates": np.nan,
                            "metric": metric,
                            "value": float(value),
                            "status": "done",
                        }
                        for step, value in zip(STEPS, values_, strict=True)
                    ]
    return pd.DataFrame(rows)


def _recipe(**extra) -> Recipe:
    return Recipe.model_validate(
        {
            "normalize": {},
            "thresholds": {"linspace": [300.0, "auto", 6]},
            "env_thresholds": {"b": {"linspace": [200.0, "auto", 6]}},
            "bootstrap": {"samples": 0},
            "p2": {"enabled": False},
            "report": {"iqm_bootstrap_samples": 10},
            **extra,
        }
    )


# q0.2 of [500, 610, 700, 800, 900] (linear) = 500 + 0.8·110 = 588; 0.95·588 = 558.6 -> 550
FINALS = {"a": [500.0, 610.0, 700.0, 800.0, 900.0], "b": [400.0, 500.0, 600.0, 700.0, 800.0]}


def test_auto_top_is_the_floored_scaled_quantile_of_final_returns():
    """Catches: another quantile interpolation (method="lower" gives 500 -> 470), rounding
    instead of flooring (560), or the factor left out (580); `b` checks the per-env low."""
    recipe, found = top.resolve(threshold.make_curves(_tidy(FINALS), "eval/return"), _recipe())
    assert found["a"]["auto"]["quantile"] == pytest.approx(588.0)
    assert found["a"]["auto"]["top"] == 550.0
    np.testing.assert_allclose(recipe.thresholds_for("a"), np.linspace(300.0, 550.0, 6))
    # b: q0.2 = 480, 0.95·480 = 456 -> 450, from its own low 200
    np.testing.assert_allclose(recipe.thresholds_for("b"), np.linspace(200.0, 450.0, 6))
    assert found["a"]["rule"] == "linspace [300.0, 'auto', 6]"


def test_final_return_is_taken_after_the_reset_filter():
    """Catches: the final return read before the reset filter (the isotonic fit would pool the
    recorded post-reset dip to 0 into the last evals and give a far lower top)."""
    _, found = top.resolve(
        threshold.make_curves(_tidy(FINALS, dip_env="a"), "eval/return"), _recipe()
    )
    assert found["a"]["auto"]["top"] == 550.0


def test_the_top_is_taken_over_the_selected_runs_only_and_reported(tmp_path):
    """Catches: the top computed before the selection (the σ = 1 runs, excluded here, would still
    count: 550 instead of q0.2([610, 700, 800, 900]) = 664 -> 630), or the resolved thresholds
    missing from fits.json, the thresholds table or the summary."""
    analysis = pipeline.run(_tidy(FINALS), _recipe(select={"where": "utd > 1"}))
    assert analysis.thresholds["a"]["auto"]["top"] == 630.0
    assert analysis.recipe.thresholds_for("a")[-1] == 630.0
    report.write_report(analysis, tmp_path)
    fits = json.loads((tmp_path / "fits.json").read_text())
    assert fits["thresholds"]["a"]["values"] == pytest.approx(np.linspace(300, 630, 6).tolist())
    table = pd.read_csv(tmp_path / "tables" / "thresholds.csv")
    assert table.loc[table["env"] == "b", "threshold"].max() == 530.0  # q0.2 = 560 -> 532 -> 530
    assert any(
        line.startswith("a: auto top J_max = 630") for line in summary.summary_lines(analysis)
    )


def test_a_top_not_above_low_is_a_message_not_a_crash():
    """Catches: thresholds running downwards (linspace(300, 280, 6)) without a word."""
    analysis = pipeline.run(_tidy({"a": [300.0, 310.0]}), _recipe())
    assert any(
        "auto top J_max = 280 " in m and "not above low = 300" in m for m in analysis.messages
    )
    assert "data_to_threshold" not in analysis.tables


def test_auto_is_accepted_only_as_the_top_of_a_linspace(tmp_path):
    """Catches: an unresolved `auto` silently used as a number, or accepted in `values`."""
    path = tmp_path / "r.yaml"
    path.write_text("thresholds: {linspace: [300, auto, 20]}\n")
    spec = load_recipe(path).thresholds
    assert spec.uses_auto and spec.count == 20
    with pytest.raises(AnalysisError, match="no top yet"):
        spec.resolve()
    path.write_text("thresholds: {values: [300, auto]}\n")
    with pytest.raises(ValueError, match=r"thresholds\.values"):
        load_recipe(path)
    assert Thresholds(linspace=(300, "auto", 3)).with_top(500).resolve().tolist() == [300, 400, 500]
