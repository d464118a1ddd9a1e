"""The CLI end to end at a tiny budget, and its errors for bad input (nothing compiled, exit 2)."""

import subprocess
import sys

import pandas as pd
import pytest
import yaml

from rlscale import results
from rlscale.cli import main

TINY = [
    "--steps",
    "200",
    "--eval-every",
    "100",
    "--warmup-steps",
    "32",
    "--batch-size",
    "16",
    "--critic-width",
    "16",
    "--actor-width",
    "16",
    "--eval-episodes",
    "1",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    config = out / "agent.yaml"
    config.write_text("agent: sac\nutd: 2\nlearning_rate: 1.0e-3\n")
    code = main(
        [
            "train",
            "--config",
            str(config),
            "--utd",
            "0.5",
            "--seeds",
            "2",
            "--out",
            str(out),
            "--quiet",
            *TINY,
        ]
    )
    assert code == 0
    return out


def test_train_writes_tidy_metrics_and_resolved_config(trained):
    frame = pd.read_parquet(trained / results.METRICS_FILE)
    assert set(results.RUN_COLUMNS) | set(results.POINT_COLUMNS) <= set(frame.columns)
    # One row per run x eval point x metric.
    assert not frame.duplicated(["run_id", "env_steps", "metric"]).any()
    assert frame.run_id.nunique() == 2 and sorted(frame.seed.unique()) == [0, 1]
    assert sorted(frame.env_steps.unique()) == [100, 200]
    for name in [
        "eval/return",
        "critic/loss",
        "critic/td_error",
        "critic/q_mean",
        "actor/entropy",
        "actor/temperature",
        "critic/param_norm",
        "compute/flops",
        "run/diverged",
    ]:
        assert name in set(frame.metric), name
    flops = frame[frame.metric == "compute/flops"].set_index("env_steps")["value"]
    assert (flops > 0).all()
    resolved = yaml.safe_load((trained / results.CONFIG_FILE).read_text())
    assert resolved["utd"] == 0.5  # the CLI flag beats the YAML file
    assert resolved["learning_rate"] == 1e-3  # the file beats the default
    assert resolved["tau"] == 0.005  # defaults are filled in
    # sigma = 0.5: (200 - 32 warm-up) transitions -> 84 updates.
    assert frame[frame.env_steps == 200].updates.iloc[0] == 84


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "jax:pendulm"], "did you mean jax:pendulum"),
        (["--env", "mujoco:ant"], "unknown env family"),
        (["--critic-widht", "64"], "unknown key 'critic_widht' (did you mean critic_width"),
        (["--agent", "sacc"], "unknown agent 'sacc'; valid: ["),
        (["--utd", "0"], "utd=0: Input should be greater than 0"),
        (["--batch-size", "-3"], "batch_size=-3"),
        (["--critic-width", "0"], "critic_width=0: Input should be greater than 0"),
        (["--batch-size", "2000"], "larger than the warm-up data"),
        (["--learning-rate", "fast"], "learning_rate='fast': Input should be a valid number"),
    ],
)
def test_bad_flags_fail_before_compiling_with_a_clear_message(args, message, capsys, tmp_path):
    assert main(["train", "--out", str(tmp_path / "x"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # nothing written


def test_yaml_unknown_key_names_file_and_line(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text("agent: sac\nutd: 2\ncritic_widht: 64\n")
    assert main(["train", "--config", str(spec)]) == 2
    assert f"{spec}:3: unknown key 'critic_widht'" in capsys.readouterr().err


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "rlscale.cli", "train", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--seeds" in out.stdout
