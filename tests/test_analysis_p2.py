"""P2 end to end: a synthetic value-scaling zip with a known D(σ, N) -> fits, compute-optimal
(σ*, N*) lines, and a proposal with a critic width."""

import io
import zipfile

import numpy as np
import pytest

from rlscale.analysis import load, pipeline, propose, report, summary
from rlscale.analysis.recipe import Recipe

TRUTH = {"a": 1.0, "alpha": 0.8, "b": 2e6, "beta": 0.9, "D_min": 1e5}
WIDTHS = {128: 6e5, 512: 9.1e6, 2048: 1.4e8}
UTDS = (1, 2, 4, 8)


def _data(utd: float, params: float) -> float:
    return TRUTH["D_min"] * (
        1 + (TRUTH["a"] / utd) ** TRUTH["alpha"] + (TRUTH["b"] / params) ** TRUTH["beta"]
    )


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    """Curves crossing J = 800 after exactly D(σ, N) steps at B = 256 (B = 1024 is 30% slower)."""
    rng = np.random.default_rng(0)
    steps = np.arange(0.0, 2e6 + 1, 2000)
    path = tmp_path_factory.mktemp("p2") / "runs.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for width, params in WIDTHS.items():
            for utd in UTDS:
                for batch, slowdown in ((256, 1.0), (1024, 1.3)):
                    tau = slowdown * _data(utd, params) / -np.log(1 - 0.8)
                    seeds = 1000 * (1 - np.exp(-steps[:, None] / tau)) + rng.normal(
                        0, 5, (len(steps), 3)
                    )
                    buffer = io.BytesIO()
                    np.save(buffer, np.column_stack([steps, seeds]))
                    archive.writestr(
                        f"syn/w{width}p{int(params)}/utd_{utd}/h1-x/return/"
                        f"bs_{batch}_lr_0.0003.npy",
                        buffer.getvalue(),
                    )
    recipe = Recipe.model_validate(
        {
            "normalize": {},
            "thresholds": {"linspace": [600.0, 800.0, 4]},
            "bootstrap": {"samples": 5},
            "p2": {"enabled": True, "holdout_top_k": 1},
            "budget": {"delta": 1e11},
            "report": {"iqm_bootstrap_samples": 50},
        }
    )
    return pipeline.run(load.load(path), recipe, str(path))


def test_p2_recovers_the_data_law(analysis):
    top = analysis.p2.envs["h1-x"].data_efficiency[3]
    assert top.params["alpha"] == pytest.approx(TRUTH["alpha"], rel=0.1)
    assert top.params["beta"] == pytest.approx(TRUTH["beta"], rel=0.1)
    assert top.params["D_min"] == pytest.approx(TRUTH["D_min"], rel=0.1)
    low, high = top.ci["D_min"]
    assert low < high  # 5 bootstrap refits


def test_p2_best_batch_and_compute_optimal_points(analysis):
    table = analysis.tables["p2_batch_size"]
    assert (table["best_batch_size_grid"] == 256).all()
    optima = analysis.tables["p2_compute_optimal"]
    assert len(optima) == 4
    # every threshold's time here is a multiple k_J of one D(σ, N), and argmin of
    # (10·N·B·σ + δ)·k_J·D(σ, N) does not depend on k_J: the same (σ*, N*) for every J
    for column in ("utd", "critic_params"):
        assert optima[column].max() == pytest.approx(optima[column].min(), rel=0.2)
    assert analysis.p2.envs["h1-x"].compute_optimal is not None


def test_p2_proposal_picks_a_width(analysis, tmp_path):
    fits = report.fits_json(analysis)
    (spec,) = propose.propose(fits, budget=1e17)
    assert spec["grid"]["critic_width"][0] % 16 == 0
    assert 16 <= spec["grid"]["critic_width"][0] <= 4096
    assert spec["budget"]["env_steps"] > 0
    assert report.write_report(analysis, tmp_path).exists()
    assert (tmp_path / "plots" / "p2_data_efficiency_h1-x.png").exists()


def test_p2_fits_carry_a_status_and_the_degenerate_batch_law_is_named(analysis):
    """B* is 256 at every (σ, N), so B*(σ, N)'s exponents and N scale collapse to their edges.
    Catches: the P2 B*(σ, N) fit left without a status (`p2.fit_p2`, not `p2.fit_law`), or the
    summary leaving a non-ok P2 fit out."""
    result = report.fits_json(analysis)["p2"]["envs"]["h1-x"]
    for entry in result["data_efficiency"].values():
        assert entry["status"] == "ok", entry["status_reason"]
        assert entry["info"]["bootstrap"]["failed_share"] == 0.0
    assert result["batch_size"]["status"] == "at_bound"
    assert "alpha = " in result["batch_size"]["status_reason"]
    assert any(
        line.startswith("  not ok: P2 B*(σ,N) h1-x: at_bound")
        for line in summary.summary_lines(analysis)
    )
