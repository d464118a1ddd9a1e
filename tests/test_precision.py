"""matmul_precision is a run key traced into the group's program and part of its shape key;
deterministic GPU ops are a process-wide XLA flag set by the launcher (or the sweep spec) before
JAX starts, and recorded in every run's config."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import pytest

from rlscale.config import ConfigError, resolve
from rlscale.sweeps.spec import load_sweep
from rlscale.training import records
from rlscale.training.group import group_runs, seed_runs
from rlscale.training.runner import build

TINY = {"steps": 100, "eval_every": 50, "warmup_steps": 32, "batch_size": 8, "critic_width": 8}


def test_a_bad_precision_names_the_key_and_the_levels():
    with pytest.raises(ConfigError) as error:
        resolve({"matmul_precision": "fast"})
    assert "matmul_precision='fast'" in str(error.value)
    assert "'highest', 'high', 'default'" in str(error.value)


def test_precision_is_part_of_the_groups_shape_key_and_defaults_to_highest():
    runs = [
        *seed_runs(resolve(TINY), 2),
        *seed_runs(resolve({**TINY, "matmul_precision": "high"}), 2),
    ]
    groups = group_runs(runs)
    assert [g.static["matmul_precision"] for g in groups] == ["highest", "high"]
    assert resolve({})["deterministic"] is False


@pytest.mark.parametrize("level", ["high", "default"])
def test_the_groups_program_is_traced_at_its_precision(level):
    """Catches: build() ignoring the key (every dot would lower at DEFAULT, or HIGHEST)."""
    (group,) = group_runs(seed_runs(resolve({**TINY, "matmul_precision": level}), 1))
    _, agent, init, chunk = build(group)
    state = jax.eval_shape(init, *records.initial_inputs(group, agent))
    text = chunk.lower(state, jnp.int32(0), jnp.bool_(True)).as_text()
    dots = [line for line in text.splitlines() if "dot_general" in line]
    assert dots and all(f"precision = [{level.upper()}, {level.upper()}]" in d for d in dots)


def _spec(tmp_path, extra: str) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(
        "agent: {preset: sac, overrides: {critic_width: 8, actor_width: 8, warmup_steps: 32}}\n"
        "env: jax:pendulum\nbudget: {env_steps: 100, eval_every: 50}\nseeds: 2\n" + extra
    )
    return str(path)


def test_a_sweep_level_deterministic_key_is_in_every_runs_config(tmp_path):
    sweep = load_sweep(_spec(tmp_path, "deterministic: true\ngrid: {batch_size: [8, 16]}\n"))
    assert [run.config["deterministic"] for run in sweep.runs] == [True] * 4
    flag = load_sweep(_spec(tmp_path, "grid: {batch_size: [8, 16]}\n"), deterministic=True)
    assert all(run.config["deterministic"] for run in flag.runs)


def test_deterministic_per_run_is_refused_naming_the_file_and_line(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_sweep(_spec(tmp_path, "grid: {deterministic: [true, false]}\n"))
    assert "spec.yaml:5 (grid.deterministic): unknown key 'deterministic'" in str(error.value)
    with pytest.raises(ConfigError, match=r"spec.yaml:5 .*deterministic='yes'.*true or false"):
        load_sweep(_spec(tmp_path, "deterministic: 'yes'\n"))


LAUNCH = """
import argparse, json, os
import jax
from rlscale.cli.run import _config
from rlscale.training import precision
config = _config(argparse.Namespace(config=None, deterministic=True), ["--steps", "100"])
flags = os.environ["XLA_FLAGS"]
platform = jax.devices()[0].platform  # XLA starts with the flag: it is one it knows
try:
    precision.set_deterministic(False)
    late = "accepted"
except RuntimeError as error:
    late = str(error)
print("RESULT", json.dumps([config["deterministic"], flags, platform, late]))
"""


def test_the_launcher_relaunches_with_the_flag_and_a_late_change_is_refused():
    """The command starts JAX (importing rlscale does), so the launcher re-executes it with the
    flag. Catches: --deterministic only recorded (no flag), a flag XLA does not know (it aborts),
    or a late change silently ignored (the recorded setting would not be the one in effect)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", LAUNCH], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    recorded, flags, platform, late = json.loads(line.removeprefix("RESULT "))
    assert recorded is True and "--xla_gpu_deterministic_ops=true" in flags.split()
    assert platform == "cpu"
    assert "already started with deterministic=True" in late and "--deterministic" in late
