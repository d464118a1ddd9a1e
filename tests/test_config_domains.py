"""Every key has a value domain, declared on its field; malformed values, YAML syntax errors and a
run too large for the memory budget are refused as ConfigErrors naming the file, line and valid
choices (exit 2 from the CLI, no traceback), before anything is written or compiled."""

from __future__ import annotations

import math
import typing

import pytest

from rlscale.agents import domains, registry
from rlscale.cli import main
from rlscale.config import LOOP_HINTS, LOOP_KEYS, ConfigError, resolve
from rlscale.sweeps.plan import split_groups
from rlscale.sweeps.spec import load_sweep
from rlscale.training.group import group_runs


def test_every_field_of_every_agent_and_every_loop_key_has_a_domain():
    """Catches: a config field, hyperparameter or loop key added without a domain (it would take
    any value of its type: nan, a bool for a number, a negative width)."""
    missing = [k for k in LOOP_KEYS if domains.domain_of(LOOP_HINTS[k]) is None]
    for name, spec in registry.AGENTS.items():
        for cls in (spec.config, spec.hparams):
            for field, hint in domains.field_hints(cls).items():
                if domains.domain_of(hint) is None:
                    missing.append(f"{name}.{cls.__name__}.{field}")
    assert not missing, missing


def test_a_subclass_that_only_changes_a_default_keeps_its_bases_domain():
    """Catches: BRO's and SimbaV2's re-declared fields (`critic_width: int = 512`) losing SAC's
    domain, so bro critic_width=0 would pass."""
    hints = domains.field_hints(registry.spec("bro").config)
    assert domains.domain_of(hints["critic_width"]).text == "an integer > 0"
    assert "'bronet'" in domains.domain_of(hints["critic_net"]).text
    assert domains.domain_of(hints["value_loss"]).text == "one of 'quantile', 'mse'"  # narrowed


TINY = {"steps": 200, "eval_every": 100, "warmup_steps": 64, "batch_size": 16}
# name: (flat config, the key the error must name, fragments it must contain)
MALFORMED = {
    "gamma 1.5": ({"gamma": 1.5}, "gamma", ["less than 1", "[0, 1)"]),
    "gamma negative": ({"gamma": -0.1}, "gamma", ["[0, 1)"]),
    "tau 2": ({"tau": 2}, "tau", ["(0, 1]"]),
    "tau 0": ({"tau": 0}, "tau", ["(0, 1]"]),
    "learning_rate nan": ({"learning_rate": math.nan}, "learning_rate", ["finite number > 0"]),
    "learning_rate inf": ({"learning_rate": math.inf}, "learning_rate", ["finite"]),
    "learning_rate beyond float32": ({"learning_rate": 1e39}, "learning_rate", ["float32"]),
    "learning_rate 0": ({"learning_rate": 0.0}, "learning_rate", ["> 0"]),
    "final_learning_rate negative": (
        {"final_learning_rate": -1e-4, "lr_decay_updates": 100},
        "final_learning_rate",
        [">= 0"],
    ),
    "lr_decay_updates -2": ({"lr_decay_updates": -2}, "lr_decay_updates", ["0, -1 or > 0"]),
    "utd true": ({"utd": True}, "utd", ["a bool is not a number"]),
    "utd nan": ({"utd": math.nan}, "utd", ["finite"]),
    "critic_width true": ({"critic_width": True}, "critic_width", ["a bool is not a number"]),
    "critic_width 2.5": ({"critic_width": 2.5}, "critic_width", ["fractional part"]),
    "critic_depth 0": ({"critic_depth": 0}, "critic_depth", ["integer > 0"]),
    "n_critics 0": ({"n_critics": 0}, "n_critics", ["integer > 0"]),
    "policy_delay 0": ({"agent": "crossq", "policy_delay": 0}, "policy_delay", ["integer > 0"]),
    "batch_size 2.5": ({"batch_size": 2.5}, "batch_size", ["fractional part"]),
    "buffer_size 8 with batch 64": (
        {"buffer_size": 8, "batch_size": 64},
        "buffer_size",
        ["smaller than batch_size=64", "0 (= steps)"],
    ),
    "critic_net unknown": ({"critic_net": "resnet"}, "critic_net", ["'mlp'", "'softmoe'"]),
    "value_loss unknown": ({"value_loss": "cauchy"}, "value_loss", ["'c51'", "'quantile'"]),
    "target_rule unknown": ({"target_rule": "max"}, "target_rule", ["'min'", "'mean'"]),
    "actor_log_std unknown": ({"actor_log_std": "exp"}, "actor_log_std", ["'clip'", "'tanh'"]),
    "moe_tokenize unknown": (
        {"critic_net": "softmoe", "moe_tokenize": "pixel"},
        "moe_tokenize",
        ["'chunk'", "'feature'"],
    ),
    "moe_tokens not dividing the width": (
        {"critic_net": "softmoe", "moe_tokens": 7},
        "moe_tokens",
        ["must divide critic_width=256"],
    ),
    "flag given 1": ({"obs_norm": 1}, "obs_norm", ["true or false"]),
    "v_min above v_max": (
        {"value_loss": "hl_gauss", "v_min": 5.0, "v_max": -5.0},
        "v_min",
        ["below v_max"],
    ),
    "one categorical bin": ({"value_loss": "c51", "n_bins": 1}, "n_bins", ["at least 2"]),
    "adam_b1 1": ({"adam_b1": 1.0}, "adam_b1", ["[0, 1)"]),
    "weight_decay negative": ({"weight_decay": -1e-4}, "weight_decay", [">= 0"]),
    "init_temperature 0": ({"init_temperature": 0}, "init_temperature", ["> 0"]),
    "reward_g_max 0": (
        {"reward_scaling": True, "reward_g_max": 0},
        "reward_g_max",
        ["> 0"],
    ),
    "bro categorical critic": ({"agent": "bro", "value_loss": "c51"}, "value_loss", ["'quantile'"]),
    "bro optimism 0": ({"agent": "bro", "init_optimism": 0}, "init_optimism", ["e^-10"]),
    "env_workers on a device env": ({"env_workers": 2}, "env_workers", ["host env families"]),
    "action repeat on jax": ({"action_repeat": 2}, "action_repeat", ["dmc, gym and playground"]),
    "agent not a name": ({"agent": ["sac"]}, "agent", ["unknown agent"]),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_values_are_refused_naming_the_key_its_source_and_the_domain(case):
    """Catches: each malformed value accepted (the reliability issue's list: gamma 1.5, tau 2,
    learning_rate nan, utd true taken as 1, buffer_size 8 under batch 64, and more), or refused
    without naming where it was set."""
    flat, key, fragments = MALFORMED[case]
    flat = {**TINY, **flat}
    sources = {k: f"spec.yaml:{line}" for line, k in enumerate(flat, start=1)}
    with pytest.raises(ConfigError) as error:
        resolve(flat, sources)
    message = str(error.value)
    assert message.startswith(f"{sources[key]}: "), message
    assert key in message, message
    for fragment in fragments:
        assert fragment in message, message


def test_valid_spellings_are_still_accepted_with_the_same_values():
    """Catches: domains stricter than the old types where they should not be: a number given as a
    string by a CLI flag (3e-4 is a string to YAML), an int for a float, 256.0 for an int."""
    config = resolve({"learning_rate": "3e-4", "utd": 2, "critic_width": 256.0, "tau": 1})
    assert config["learning_rate"] == 3e-4 and type(config["utd"]) is float
    assert config["critic_width"] == 256 and type(config["critic_width"]) is int
    assert resolve({"lr_decay_updates": -1})["lr_decay_updates"] == domains.RUN_LENGTH
    assert resolve({"agent": "bro", "value_loss": "mse"})["value_loss"] == "mse"


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--gamma", "1.5"], ["command line: gamma=1.5", "[0, 1)"]),
        (["--utd", "true"], ["utd=True", "a bool is not a number"]),
        (["--learning-rate", ".nan"], ["learning_rate=nan", "finite"]),
        (["--buffer-size", "8", "--batch-size", "64"], ["buffer_size=8 is smaller"]),
        (["--critic-width", "[1"], ["--critic-width '[1'", "not a valid YAML value"]),
    ],
)
def test_train_exits_2_without_a_traceback(args, fragments, tmp_path, capsys):
    """Catches: a malformed flag reaching the trainer (or a YAML parser traceback for one)."""
    assert main(["train", "--out", str(tmp_path / "x"), *args]) == 2
    error = capsys.readouterr().err
    assert error.startswith("rlscale train: error: ") and "Traceback" not in error
    for fragment in fragments:
        assert fragment in error, error
    assert not (tmp_path / "x").exists()


SPEC = """\
name: tiny
agent: {preset: sac, overrides: {critic_width: 16, actor_width: 16, batch_size: 16,
                                   warmup_steps: 64}}
env: jax:pendulum
budget: {env_steps: 500, eval_every: 250, eval_episodes: 1}
"""


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        ("grid: {tau: [0.005, 2]}\n", ["spec.yaml:6 (grid.tau): tau=2", "(0, 1]"]),
        ("grid: {gamma: [1.5]}\n", ["spec.yaml:6 (grid.gamma): gamma=1.5"]),
        ("zip: {utd: [true]}\n", ["(zip.utd): utd=True", "a bool is not a number"]),
        ("grid: {buffer_size: [8]}\n", ["(grid.buffer_size): buffer_size=8 is smaller"]),
        ("grid: {utd: [1, 2}\n", ["spec.yaml:6: not valid YAML"]),
        ("grid: {utd: [1]}\ngrid: {utd: [2]}\n", ["spec.yaml:7: grid is given twice"]),
    ],
)
def test_sweep_exits_2_for_malformed_values_and_yaml(extra, fragments, tmp_path, capsys):
    """Catches: a sweep spec's malformed value or YAML syntax error (a parser traceback, exit 1)
    or duplicate key (YAML silently keeps the last) getting past `rlscale sweep`."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC + extra)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("rlscale sweep: error: ") and "Traceback" not in error
    for fragment in fragments:
        assert fragment in error, error
    assert not (tmp_path / "out").exists()


def test_yaml_syntax_errors_in_run_configs_and_presets_name_file_and_line(tmp_path, capsys):
    """Catches: a parser traceback for a broken run config (`train --config`) or agent preset
    (named by a sweep spec)."""
    config = tmp_path / "run.yaml"
    config.write_text("agent: sac\nutd: 2\ncritic_width: [64\n")
    assert main(["train", "--config", str(config)]) == 2
    assert f"{config}:4: not valid YAML" in capsys.readouterr().err
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "mine.yaml").write_text("agent: sac\n  gamma: 0.9\n")
    (tmp_path / "sweeps").mkdir()
    spec = tmp_path / "sweeps" / "spec.yaml"
    spec.write_text("agent: mine\nenv: jax:pendulum\n")
    with pytest.raises(ConfigError, match=r"mine\.yaml:2: not valid YAML: mapping values"):
        load_sweep(spec)


def test_a_run_that_cannot_fit_the_memory_budget_is_refused(tmp_path, capsys):
    """Catches: a critic too large for the budget planned as a group of one run (split_groups
    kept it alone) and sent to the device anyway."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC + "seeds: 2\n")
    (group,) = group_runs(list(load_sweep(spec).runs))
    with pytest.raises(ConfigError, match="over the memory budget") as error:
        split_groups([group], budget_bytes=1000.0)
    message = str(error.value)
    assert "sac on jax:pendulum (critic_width=16" in message and "--memory-gb" in message
    assert group.runs[0].run_id in message and "bytes" in message
    assert main(["sweep", str(spec), "--dry-run", "--memory-gb", "1e-6"]) == 2
    assert "over the memory budget" in capsys.readouterr().err
    assert main(["sweep", str(spec), "--dry-run", "--memory-gb", "nan"]) == 2
    assert "--memory-gb nan" in capsys.readouterr().err


def test_domain_text_lists_string_choices():
    """Catches: a string domain whose error would not list the valid choices."""
    hint = domains.field_hints(registry.spec("sac").config)["moe_tokenize"]
    assert typing.get_args(typing.get_args(hint)[0]) == ("chunk", "feature")
    assert domains.domain_of(hint).text == "one of 'chunk', 'feature'"
