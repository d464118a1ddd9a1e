"""Agent presets' `family:` blocks (per env family defaults, e.g. SimbaV2's official DMC settings)
and the learning-rate decay over the run's own updates."""

import pytest
import yaml

from rlscale.config import ConfigError, load_run_config
from rlscale.sweeps.spec import load_sweep
from rlscale.training import records
from rlscale.training.group import group_runs, seed_runs

PRESET = {
    "agent": "sac",
    "critic_width": 32,
    "gamma": 0.99,
    "utd": 1.0,
    "family": {"dmc": {"utd": 2.0, "n_critics": 1}, "gym": {"gamma": 0.995}},
}


@pytest.fixture
def preset(tmp_path):
    path = tmp_path / "agents" / "mine.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(PRESET, sort_keys=False))
    return path


def test_the_env_familys_block_replaces_the_presets_values(preset):
    """Catches: the block ignored, or applied to every family."""
    dmc = load_run_config(preset, {"env": "dmc:cartpole-swingup"})
    assert (dmc["utd"], dmc["n_critics"], dmc["gamma"]) == (2.0, 1, 0.99)
    gym = load_run_config(preset, {"env": "gym:Pendulum-v1"})
    assert (gym["utd"], gym["n_critics"], gym["gamma"]) == (1.0, 2, 0.995)
    jax_env = load_run_config(preset, {"env": "jax:pendulum"})
    assert (jax_env["utd"], jax_env["n_critics"], jax_env["gamma"]) == (1.0, 2, 0.99)


def test_every_later_layer_still_wins_over_the_block(preset):
    """Catches: the block applied last, over what the user set (a flag, a grid value)."""
    flags = load_run_config(preset, {"env": "dmc:cartpole-swingup", "utd": 4.0})
    assert (flags["utd"], flags["n_critics"]) == (4.0, 1)
    spec = preset.parent.parent / "sweeps" / "sweep.yaml"  # presets are found in ../agents
    spec.parent.mkdir()
    spec.write_text(
        yaml.safe_dump(
            {
                "agent": {"preset": "mine", "overrides": {"n_critics": 3}},
                "grid": {"env": ["dmc:cartpole-swingup", "gym:Pendulum-v1"], "utd": [8.0]},
            }
        )
    )
    runs = {run.config["env"]: run.config for run in load_sweep(spec).runs}
    assert (runs["dmc:cartpole-swingup"]["utd"], runs["dmc:cartpole-swingup"]["n_critics"]) == (
        8,
        3,
    )
    assert runs["gym:Pendulum-v1"]["gamma"] == 0.995  # the block still applies where nothing set it


def test_a_bad_block_is_refused_with_its_line(preset):
    preset.write_text(preset.read_text().replace("gym:", "gymm:"))
    with pytest.raises(ConfigError, match=r"mine.yaml:\d+ \(family.gymm\): unknown env family"):
        load_run_config(preset, {})
    preset.write_text(yaml.safe_dump({**PRESET, "family": {"dmc": {"utdd": 2}}}))
    with pytest.raises(ConfigError, match=r"family.dmc.utdd.*unknown key 'utdd'"):
        load_run_config(preset, {"env": "dmc:cartpole-swingup"})


def test_simbav2_preset_follows_the_official_suite_settings():
    """SimbaV2 `online_rl.yaml`: one update per simulator step (2 per agent step at action repeat
    2) and one critic without CDQ on DMC; γ 0.995 on Gym MuJoCo (science/agents.md 4.8)."""
    dmc = load_run_config("agents/simbav2.yaml", {"env": "dmc:cheetah-run"})
    assert (dmc["utd"], dmc["n_critics"], dmc["gamma"]) == (2.0, 1, 0.99)
    gym = load_run_config("agents/simbav2.yaml", {"env": "gym:HalfCheetah-v5"})
    assert (gym["utd"], gym["n_critics"], gym["gamma"]) == (1.0, 2, 0.995)


def test_the_lr_decays_over_the_runs_own_updates_unless_set():
    """Catches: SimbaV2's decay over a fixed 1e6 updates whatever the run's length. 6000 env steps,
    1000 of warm-up, σ 2: the run does (6000 - 1000) x 2 = 10000 updates."""
    config = load_run_config(
        "agents/simbav2.yaml", {"steps": 6000, "eval_every": 2000, "warmup_steps": 1000, "utd": 2}
    )
    (group,) = group_runs(seed_runs(config, 1))
    agent = group.env_and_agent()[1]
    _, hparams = records.initial_inputs(group, agent)
    assert float(hparams.lr_decay_updates[0]) == 10_000.0
    fixed = {**config, "lr_decay_updates": 500.0}
    (group,) = group_runs(seed_runs(fixed, 1))
    assert float(records.initial_inputs(group, agent)[1].lr_decay_updates[0]) == 500.0
