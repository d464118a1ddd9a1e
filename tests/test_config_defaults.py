"""Defaults that fit any budget: eval_every, unless given, splits the run into 10-40 eval points."""

import pytest

from rlscale.config import ConfigError, load_run_config


@pytest.mark.parametrize(
    ("keys", "eval_every"),
    [
        ({}, 2000),  # the default 20k steps: 10 points, as before
        ({"steps": 3000}, 300),  # was refused: 2000 does not divide 3000
        ({"steps": 3000, "n_envs": 8}, 200),  # 300 is not a multiple of 8; 200 is (15 points)
        ({"steps": 1_000_000}, 100_000),
    ],
)
def test_eval_every_defaults_to_the_largest_interval_with_ten_points(keys, eval_every):
    """Catches: a fixed default that refuses budgets it does not divide (`--steps 3000`)."""
    config = load_run_config(None, {"warmup_steps": 256, **keys})
    assert config["eval_every"] == eval_every
    assert config["steps"] % eval_every == 0 and 10 <= config["steps"] // eval_every <= 40


def test_a_given_eval_every_is_kept():
    assert load_run_config(None, {"steps": 3000, "eval_every": 1000})["eval_every"] == 1000


def test_no_fitting_interval_suggests_step_counts_and_a_bad_value_is_still_refused():
    with pytest.raises(ConfigError, match=r"steps=3001: .* use steps 3000 or 3002"):
        load_run_config(None, {"steps": 3001})
    with pytest.raises(ConfigError, match=r"eval_every=700 must divide steps=3000"):
        load_run_config(None, {"steps": 3000, "eval_every": 700})
