"""Sweep specs: expansion, stable ids, grouping, memory splits and bad input (nothing compiles)."""

from __future__ import annotations

import pytest

from rlscale.cli import main
from rlscale.config import ConfigError
from rlscale.sweeps import store
from rlscale.sweeps.plan import run_bytes, split_groups
from rlscale.sweeps.spec import load_sweep
from rlscale.training.group import group_runs

TINY = """\
name: tiny
agent: {preset: sac, overrides: {critic_width: 16, actor_width: 16, batch_size: 16,
                                   warmup_steps: 64}}
env: jax:pendulum
budget: {env_steps: 500, eval_every: 250, eval_episodes: 1}
seeds: 2
"""


def write(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_grid_zip_seeds_and_overrides_expand_into_resolved_runs(tmp_path):
    spec = write(
        tmp_path,
        TINY
        + """\
grid: {utd: [0.5, 2], batch_size: [16, 32]}
zip: {learning_rate: [0.001, 0.0003], tau: [0.01, 0.005]}
overrides: [{when: {utd: 2, batch_size: 32}, set: {warmup_steps: 128}}]
""",
    )
    sweep = load_sweep(spec)
    assert len(sweep.runs) == 2 * 2 * 2 * 2  # utd x batch x zip rows x seeds
    configs = [run.config for run in sweep.runs]
    assert {(c["learning_rate"], c["tau"]) for c in configs} == {(0.001, 0.01), (0.0003, 0.005)}
    assert {c["utd"] for c in configs} == {0.5, 2.0}  # fractional sigma is a valid value
    special = [c for c in configs if c["warmup_steps"] == 128]
    assert special and all(c["utd"] == 2 and c["batch_size"] == 32 for c in special)
    assert len(special) == 2 * 2  # zip rows x seeds of that one entry
    assert all(c["critic_width"] == 16 and c["steps"] == 500 for c in configs)
    # Stable ids: the same spec expands to the same ids; every run has its own.
    assert [r.run_id for r in load_sweep(spec).runs] == [r.run_id for r in sweep.runs]
    assert len({r.run_id for r in sweep.runs}) == len(sweep.runs)


def test_groups_split_on_shape_keys_and_vmap_seeds_and_scalar_hparams(tmp_path):
    spec = write(tmp_path, TINY + "grid: {batch_size: [16, 32], learning_rate: [0.001, 0.01]}\n")
    groups = group_runs(list(load_sweep(spec).runs))
    assert len(groups) == 2  # one compiled program per batch size
    for group in groups:
        assert len(group.runs) == 4  # 2 learning rates x 2 seeds, vmapped together
        assert {r.config["learning_rate"] for r in group.runs} == {0.001, 0.01}


def test_a_group_too_large_for_memory_is_split(tmp_path):
    spec = write(tmp_path, TINY.replace("seeds: 2", "seeds: 5"))
    (group,) = group_runs(list(load_sweep(spec).runs))
    per_run = run_bytes(group)
    buffer = 500 * (3 + 1 + 1 + 3 + 1) * 4  # steps x (obs, action, reward, next_obs, done) floats
    assert per_run > buffer
    parts = split_groups([group], budget_bytes=2 * per_run * 2.0)  # room for two runs
    assert [len(p.runs) for p in parts] == [2, 2, 1]
    assert [r for p in parts for r in p.runs] == list(group.runs)
    assert split_groups([group], budget_bytes=1e12) == [group]


def test_dry_run_prints_runs_and_groups_and_writes_nothing(tmp_path, capsys):
    spec = write(tmp_path, TINY + "grid: {utd: [1, 2]}\n")
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--dry-run", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "4 runs in 2 compiled groups" in printed
    assert "group 1: 2 runs" in printed and "utd=2.0" in printed
    assert all(run.run_id in printed for run in load_sweep(spec).runs)
    assert not out.exists()


BAD = {
    "unknown spec key": (TINY + "gird: {utd: [1]}\n", ["spec.yaml:7", "'gird'", "grid"]),
    "unknown run key": (
        TINY.replace("actor_width", "actor_widht"),
        ["spec.yaml:2", "'actor_widht'", "did you mean actor_width"],
    ),
    "wrong type": (TINY + "grid: {batch_size: [big]}\n", ["spec.yaml:7", "batch_size='big'"]),
    "empty grid": (TINY + "grid: {utd: []}\n", ["spec.yaml:7", "empty grid for 'utd'"]),
    "sigma zero": (TINY + "grid: {utd: [1, 0]}\n", ["spec.yaml:7", "utd=0", "greater than 0"]),
    "sigma negative": (TINY + "zip: {utd: [-1]}\n", ["spec.yaml:7", "utd=-1"]),
    "fractional batch": (TINY + "grid: {batch_size: [16.5]}\n", ["batch_size=16.5"]),
    "negative batch": (TINY + "grid: {batch_size: [-16]}\n", ["batch_size=-16"]),
    "unknown agent": (TINY.replace("preset: sac", "preset: nope"), ["spec.yaml:2", "'nope'"]),
    "unknown env": (
        TINY.replace("jax:pendulum", "jax:pendulm"),
        ["spec.yaml:4", "did you mean jax:pendulum"],
    ),
    "grid key agent lacks": (
        TINY + "grid: {n_quantiles: [8, 16]}\n",
        ["spec.yaml:7", "'n_quantiles'", "valid keys"],
    ),
    "zip lengths": (TINY + "zip: {tau: [0.1, 0.2], gamma: [0.9]}\n", ["equal lengths"]),
    "override matches nothing": (
        TINY + "grid: {utd: [1]}\noverrides: [{when: {utd: 3}, set: {warmup_steps: 100}}]\n",
        ["matches no run"],
    ),
    "seeds": (TINY.replace("seeds: 2", "seeds: [1, 1]"), ["spec.yaml:6", "distinct"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_rejected_before_anything_is_written(case, tmp_path, capsys):
    text, fragments = BAD[case]
    spec = write(tmp_path, text)
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("rlscale sweep: error: ")
    for fragment in fragments:
        assert fragment in error, error
    assert not out.exists()


def test_a_dir_made_from_a_different_spec_refuses_to_resume(tmp_path, capsys):
    out = tmp_path / "out"
    store.prepare(out, load_sweep(write(tmp_path, TINY + "grid: {utd: [1, 2]}\n", "a.yaml")))
    other = write(tmp_path, TINY + "grid: {utd: [1, 4]}\n", "b.yaml")
    with pytest.raises(ConfigError, match=r"grid.utd: \[1, 2\] -> \[1, 4\]"):
        store.prepare(out, load_sweep(other))
    assert main(["sweep", str(other), "--out", str(out)]) == 2
    assert "different sweep" in capsys.readouterr().err
    assert not (out / "runs").exists()
