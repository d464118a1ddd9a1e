"""Reset filters before the isotonic fit: model_scaling's `filter_out_resets` for published data
(int period, ambiguous evals read both ways) and the resets rlscale runs record."""

import json

import numpy as np
import pandas as pd
import pytest

from rlscale import results
from rlscale.analysis import load, resets, synthetic, threshold

CONFIG = {
    "env": "e",
    "utd": 1.0,
    "batch_size": 256.0,
    "learning_rate": 3e-4,
    "critic_width": np.nan,
    "critic_params": 1e6,
    "variant": "",
}


def test_reset_period_is_truncated_to_whole_env_steps():
    """Catches: the float period R/σ (resets at 33.3, 66.7, 100) instead of int(R/σ) = 33."""
    np.testing.assert_array_equal(resets.reset_steps(132.0, 3.0, 100.0), [33, 66, 99, 132])
    # evals at the reset steps: read post-reset, the dip at 33 is dropped; with float resets
    # every eval is pre-reset and nothing would be
    steps = np.array([0.0, 33, 66, 99, 132])
    keep = resets.published_mask(steps, np.array([100, 20, 200, 300, 400.0]), 3.0, 100.0)
    np.testing.assert_array_equal(keep, [1, 0, 1, 1, 1])


def test_an_eval_at_a_reset_step_is_read_the_way_with_the_larger_drop():
    """Catches: always reading the eval at a reset step as post-reset (the old rule), or always
    as pre-reset; the reading with the larger summed pre->post drop must win."""
    steps = np.array([0.0, 25, 50, 75, 100])
    # resets at 50 and 100: pre-reset reading drop 310-50 = 260 (100 is final: ignored);
    # post-reset reading: (300-310) + (50-400) = -360. So 50 is pre-reset and 75 the dip.
    pre_wins = resets.published_mask(steps, np.array([100, 300, 310, 50, 400.0]), 1.0, 50.0)
    np.testing.assert_array_equal(pre_wins, [1, 1, 1, 0, 1])
    # here the dip is at 50 itself: post-reset drop 300-40 = 260 beats pre-reset 40-320 = -280
    post_wins = resets.published_mask(steps, np.array([100, 300, 40, 320, 400.0]), 1.0, 50.0)
    np.testing.assert_array_equal(post_wins, [1, 1, 0, 1, 1])


def test_a_reset_at_the_final_eval_counts_only_in_the_post_reset_reading():
    """Catches: the pre-reset reading looking past the last eval for a post-reset value (an
    index error) or dropping the final eval in both readings."""
    steps = np.array([0.0, 25, 50])
    dip = resets.published_mask(steps, np.array([100, 300, 200.0]), 1.0, 50.0)
    np.testing.assert_array_equal(dip, [1, 1, 0])  # post-reset: 300 -> 200, a drop of 100 > 0
    rise = resets.published_mask(steps, np.array([100, 300, 400.0]), 1.0, 50.0)
    np.testing.assert_array_equal(rise, [1, 1, 1])


def test_recorded_resets_replace_the_periodic_rule():
    """Catches: rlscale runs filtered by the recipe's period instead of their own `run/resets`
    (the period here, 2 updates at σ = 1, would drop other evals), or the recorded dip kept."""
    steps = np.arange(1.0, 7.0) * 10
    mean = np.array([100, 300, 50, 200, 400, 380.0])
    rows = []
    for seed in (0, 1):
        for metric, values in (("eval/return", mean), ("run/resets", [0, 0, 1, 1, 1, 1])):
            rows += [
                {**CONFIG, "agent": "bro", "seed": seed, "env_steps": s, "updates": np.nan}
                | {"metric": metric, "value": float(v), "status": "done"}
                for s, v in zip(steps, values, strict=True)
            ]
    (curve,) = threshold.make_curves(pd.DataFrame(rows), "eval/return")
    np.testing.assert_array_equal(curve.resets, [0, 0, 1, 1, 1, 1])
    kept, _ = threshold.seed_mean(curve, None, reset_every_updates=2.0)
    np.testing.assert_array_equal(kept, [10, 20, 50, 60])
    # published data (no record): the periodic rule applies
    bare = curve._replace(resets=None)
    assert len(threshold.seed_mean(bare, None, reset_every_updates=2.0)[0]) != 4


def test_rlscale_loader_counts_the_reset_env_steps_of_status_json(tmp_path):
    """Catches: a reset at an eval's own env step counted after that eval (`<` for `<=`: rlscale
    evaluates after the chunk in which the reset happened), or a run without a record left with
    no `run/resets` (it would then be filtered by the recipe's period)."""
    runs = synthetic.SyntheticRuns(seeds=2, steps=5000, eval_every=1000)
    frame = synthetic.sweep_frame(synthetic.SyntheticLaw(), [1.0], [128.0], [1e-3], runs)
    synthetic.write_sweep(frame, tmp_path)
    reset_dir = next(p for p in tmp_path.iterdir() if p.name.endswith("-0"))
    status = json.loads((reset_dir / results.STATUS_FILE).read_text())
    status["reset_env_steps"] = [2000, 3500]
    results.write_status(reset_dir / results.STATUS_FILE, status)
    tidy = load.load(tmp_path)
    counts = tidy[tidy["metric"] == "run/resets"].pivot_table(
        index="env_steps", columns="seed", values="value"
    )
    np.testing.assert_array_equal(counts[0], [0, 1, 1, 2, 2])
    np.testing.assert_array_equal(counts[1], [0, 0, 0, 0, 0])


@pytest.mark.parametrize("utd", [5.0, 10.0])
def test_bro_ablation_resets_fall_on_eval_steps_and_are_filtered(utd):
    """Catches: BRO-ablation runs (σ = 5, 10: resets at multiples of 25k, on eval steps) keeping
    the post-reset dip: the isotonic fit pools it with the evals before the reset and a threshold
    just below the pre-reset return is crossed only after the dip."""
    steps = 25_000.0 * np.arange(1, 41)
    period = int(2.5e6 / utd)  # 500k or 250k: an eval step, read pre-reset (the larger drop)
    curve = np.minimum(1000.0, steps / 500.0)
    after = (steps > period) & (steps <= period + 50_000)
    seeds = np.where(after, 100.0, curve)[:, None] + np.zeros((1, 10))
    crossing = threshold.curve_crossings(
        threshold.Curve({**CONFIG, "utd": utd}, steps, seeds),
        np.array([period / 500.0 - 20.0]),
        0,
        np.random.default_rng(0),
        2.5e6,
    )
    assert crossing[0, 0] == period
