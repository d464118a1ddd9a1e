"""The BRO UTD x size ablation layout (`ablations_rr/rr{σ}_{size}/{task}.npy`) end to end with a
published-protocol recipe: run selection, `auto` top thresholds, the reset filter and p2.pool.

The synthetic archive has the published shape: 5 σ x 5 sizes, 40 evals every 25k env steps, 10
noisy seeds, BRO resets every 2.5M gradient steps (a dip after each), and three tasks sharing one
law up to a task scale, except that `flat-run` barely depends on N; `broken-run` is excluded.
"""

import numpy as np
import pytest

from rlscale.analysis import load, report, status, summary
from rlscale.analysis.recipe import load_recipe

UTDS = (1, 2, 5, 10, 15)
SIZES = load.BRO_SIZES  # xs ... l: 0.55M ... 26.31M critic parameters
TASKS = {"dog-run": (1.0, 1.0), "walker-run": (0.6, 1.0), "flat-run": (0.8, 1e-3)}
RECIPE = """
agent: bro
normalize: {}
select: {exclude_envs: [broken-run]}
thresholds: {linspace: [300.0, auto, 2]}
top: {final_return_quantile: 0.2, factor: 0.95, floor_to: 10.0}
reset_every_updates: 2.5e+6
bootstrap: {samples: 2}
p2: {enabled: true, pool: median_normalized, threshold: last}
report: {format: markdown, max_curves: 2, iqm_bootstrap_samples: 20}
"""


def _data(utd: float, params: float, n_weight: float) -> float:
    """Env steps to J = 800: D = 1e5·(1 + (2/σ)^0.8 + n_weight·(5e6/N)^0.7)."""
    return 1e5 * (1 + (2.0 / utd) ** 0.8 + n_weight * (5e6 / params) ** 0.7)


def _write_archive(root) -> None:
    rng = np.random.default_rng(0)
    steps = 25_000 * np.arange(1, 41)
    rate = -np.log(1 - 0.8)
    tasks = TASKS | {"broken-run": (1.0, 1.0)}
    for (task, (scale, n_weight)), utd, (size, params) in (
        (t, u, s) for t in tasks.items() for u in UTDS for s in SIZES.items()
    ):
        tau = scale * _data(utd, params, n_weight) / rate
        returns = 1000 * (1 - np.exp(-steps[:, None] / tau)) + rng.normal(0, 30, (40, 10))
        period = int(2.5e6 / utd)
        after_reset = (steps % period < 25_000) & (steps > period)
        returns[after_reset] *= 0.5  # the eval right after a reset dips, then recovers
        if task == "broken-run":
            returns = rng.uniform(0, 1000, (40, 10))
        folder = root / "ablations_rr" / f"rr{utd}_{size}"
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / f"{task}.npy", returns)


@pytest.fixture(scope="module")
def fits(tmp_path_factory):
    root = tmp_path_factory.mktemp("bro")
    _write_archive(root / "runs")
    (root / "recipe.yaml").write_text(RECIPE)
    analysis, _ = report.analyze(
        root / "runs", load_recipe(root / "recipe.yaml"), root / "report", "auto"
    )
    return analysis, report.fits_json(analysis), root / "report"


def test_the_recipe_keys_took_effect(fits):
    """Catches: select, the auto top or the reset filter ignored on this layout. σ = 10 and 15
    reset right before the final eval, so without the filter their final returns dip and the
    tops (q0.2 of the final isotonic returns) are 860, 890, 880 instead."""
    _, result, _ = fits
    assert result["meta"]["envs"] == sorted(TASKS)
    tops = {task: result["thresholds"][task]["values"][-1] for task in TASKS}
    assert tops == {"dog-run": 880.0, "walker-run": 940.0, "flat-run": 950.0}
    assert all(result["thresholds"][task]["auto"] for task in TASKS)
    assert set(result["p2"]["pooled"]["tasks"]) == set(TASKS)


def test_a_degenerate_per_env_fit_beside_an_identified_pool(fits):
    """flat-run's times hardly depend on N, so its own D(σ, N) cannot place b and β, while the
    pooled law and the shared exponents (which see N in the other tasks) are identified."""
    _, result, _ = fits
    top = str(max(int(i) for i in result["p2"]["envs"]["flat-run"]["data_efficiency"]))
    flat = result["p2"]["envs"]["flat-run"]["data_efficiency"][top]
    assert flat["status"] != status.OK
    pooled = result["p2"]["pooled"]["data_efficiency"]
    assert set(pooled) == {"1"}  # threshold: last
    assert pooled["1"]["status"] == status.OK, pooled["1"]["status_reason"]
    assert pooled["1"]["params"]["alpha"]["ci_low"] < pooled["1"]["params"]["alpha"]["ci_high"]
    shared = result["p2"]["shared_exponent"]["data_efficiency"]["1"]
    assert 0.4 < shared["params"]["alpha"]["value"] < 1.6, shared["status_reason"]
    assert set(result["p2"]["pooled"]["ols"]["1"]["params"]) == {"c0", "c1", "c2"}


def test_report_has_the_pooled_table_and_plot(fits):
    analysis, _, out = fits
    table = (out / "tables" / "p2_pooled_time.csv").read_text().splitlines()
    assert table[0].startswith("utd,threshold_index,critic_params,time,time_std,tasks,median")
    assert len(table) == 1 + len(UTDS) * len(SIZES) * 2
    assert (out / "plots" / "p2_pooled_data_efficiency.png").exists()
    assert any(line.startswith("[P2 pooled, 3 tasks]") for line in summary.summary_lines(analysis))
