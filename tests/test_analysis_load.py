"""Loading the three layouts into one tidy frame, and return normalisation."""

import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from rlscale import results
from rlscale.analysis import load, synthetic


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.fixture
def value_scaling_zip(tmp_path):
    """Two files in the published layout: BRO-style (params, lr, flags) and SimbaV2-style."""
    steps = np.array([0.0, 25_000, 50_000])
    bro = np.column_stack([steps, [0.0, 300, 700], [0.0, 200, np.nan]])
    simba = np.column_stack([steps, [1.0, 2, 3]])
    path = tmp_path / "runs.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "fitted_bs/w512p2286792/utd_2/h1-crawl-v0/return/"
            "bs_304_lr_0.0003_hard_False_sep_False.npy",
            _npy(bro),
        )
        archive.writestr(
            "fitted_bs/w512p2286792/utd_2/h1-crawl-v0/critic_loss/"
            "bs_304_lr_0.0003_hard_False_sep_False.npy",
            _npy(bro),
        )
        archive.writestr("simba/w128/utd_0.5/h1-stand-v0/avg_return/bs_2048.npy", _npy(simba))
    return path


def test_value_scaling_layout_is_parsed(value_scaling_zip):
    tidy = load.load(value_scaling_zip)
    assert list(tidy.columns) == list(load.TIDY_COLUMNS)
    bro = tidy[(tidy["env"] == "h1-crawl-v0") & (tidy["metric"] == "eval/return")]
    first = bro.iloc[0]
    assert (first.utd, first.batch_size, first.learning_rate) == (2.0, 304.0, 3e-4)
    assert (first.critic_width, first.critic_params) == (512.0, 2286792.0)
    assert first.variant == "hard_False_sep_False"
    assert len(bro) == 5  # 3 evals x 2 seeds, minus the NaN
    assert set(tidy["metric"]) == {"eval/return", "critic/loss"}
    simba = tidy[tidy["env"] == "h1-stand-v0"].iloc[0]
    assert simba.utd == 0.5 and np.isnan(simba.learning_rate) and np.isnan(simba.critic_params)


def test_bro_ablation_layout_has_implicit_steps_and_named_sizes(tmp_path):
    task_dir = tmp_path / "ablations_rr" / "rr5_sm"
    task_dir.mkdir(parents=True)
    np.save(task_dir / "dog-run.npy", np.arange(40 * 10, dtype=float).reshape(40, 10))
    tidy = load.load(tmp_path)
    assert load.detect_layout(tmp_path) == "bro-ablation"
    assert tidy["env_steps"].min() == 25_000 and tidy["env_steps"].max() == 1_000_000
    assert set(tidy["seed"]) == set(range(10))
    row = tidy.iloc[0]
    assert (row.utd, row.critic_params, row.batch_size) == (5.0, 2.83e6, 1024.0)


def test_rlscale_layout_broadcasts_n_and_keeps_diverged_runs(tmp_path):
    frame = synthetic.sweep_frame(
        synthetic.SyntheticLaw(),
        [1.0],
        [128.0],
        [1e-3],
        synthetic.SyntheticRuns(seeds=2, steps=3000),
    )
    synthetic.write_sweep(frame, tmp_path)
    run_dir = next(p for p in tmp_path.iterdir() if p.name.endswith("-1"))
    results.write_status(run_dir / results.STATUS_FILE, {"state": "diverged"})
    tidy = load.load(tmp_path)
    assert load.detect_layout(tmp_path) == "rlscale"
    assert (tidy["critic_params"] == 5e4).all()
    assert set(tidy["status"]) == {"done", "diverged"}
    assert (tidy["variant"] == "").all()


def test_config_columns_that_vary_become_the_variant(tmp_path):
    frame = synthetic.sweep_frame(
        synthetic.SyntheticLaw(),
        [1.0],
        [128.0],
        [1e-3],
        synthetic.SyntheticRuns(seeds=2, steps=2000),
    )
    frame["tau"] = np.where(frame["seed"] == 0, 0.005, 0.01)
    synthetic.write_sweep(frame, tmp_path)
    assert set(load.load(tmp_path)["variant"]) == {"tau=0.005", "tau=0.01"}


def test_missing_runs_and_unknown_layout_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no runs under"):
        load.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load.load(tmp_path / "nope")
    (tmp_path / "x.npy").write_bytes(_npy(np.zeros((2, 2))))
    with pytest.raises(ValueError, match="unknown layout"):
        load.load(tmp_path, layout="gym")


def test_affine_normalisation_maps_min_max_to_0_1000():
    tidy = pd.DataFrame(
        {"env": ["p", "p", "q"], "metric": ["eval/return"] * 3, "value": [-1500.0, -150.0, 500.0]}
    )
    out = load.normalize_returns(tidy, {"p": (-1500.0, 0.0)})
    assert out["value"].tolist() == pytest.approx([0.0, 900.0, 500.0])


def test_width_map_fills_unknown_sizes_only():
    tidy = pd.DataFrame(
        {"critic_width": [128.0, 256.0, 512.0], "critic_params": [np.nan, np.nan, 7.0]}
    )
    out = load.apply_widths(tidy, {128.0: 604362.0, 512.0: 1.0})
    assert out["critic_params"].tolist()[0] == 604362.0
    assert np.isnan(out["critic_params"].iloc[1]) and out["critic_params"].iloc[2] == 7.0
