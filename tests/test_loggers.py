"""Per-run logging sinks: TensorBoard event files and W&B offline runs, one per vmapped member,
read back with TensorBoard's own event reader; a resumed group logs no step twice."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest
from tensorboard.backend.event_processing import event_accumulator

from rlscale import results
from rlscale.config import ConfigError
from rlscale.sweeps import execute, store
from rlscale.sweeps.spec import load_sweep
from rlscale.training.group import RunSpec
from rlscale.training.loggers import TENSORBOARD_DIR, WANDB_DIR, RunLogs

SPEC = """\
name: logged
agent: {preset: sac, overrides: {critic_width: 16, actor_width: 16, batch_size: 16,
                                   warmup_steps: 64}}
env: jax:pendulum
budget: {env_steps: 1000, eval_every: 250, eval_episodes: 1}
seeds: 2
loggers: [parquet, tensorboard, wandb]
"""
EVAL_STEPS = [250, 500, 750, 1000]


def scalars(directory: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) of every event of `tag`, duplicates kept (no purge of re-logged steps)."""
    reader = event_accumulator.EventAccumulator(str(directory), purge_orphaned_data=False)
    reader.Reload()
    return [(e.step, e.value) for e in reader.Scalars(tag)]


@pytest.fixture
def offline_wandb(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for name in ("WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "wandb-home"))


@pytest.fixture
def logged_sweep(tmp_path, offline_wandb):
    spec = tmp_path / "logged.yaml"
    spec.write_text(SPEC)
    root = tmp_path / "out"
    sweep = load_sweep(spec)
    execute.run_sweep(sweep, root, progress=False)
    return sweep, root


def test_every_member_has_its_event_file_and_wandb_run_and_a_resume_adds_no_step(logged_sweep):
    sweep, root = logged_sweep
    run_ids = [run.run_id for run in sweep.runs]
    assert len(run_ids) == 2  # one group of 2 vmapped seeds
    for run_id in run_ids:
        folder = store.run_dir(root, run_id)
        metrics = pd.read_parquet(folder / results.METRICS_FILE)
        parquet = metrics[metrics.metric == "eval/return"].set_index("env_steps")["value"]
        logged = scalars(folder / TENSORBOARD_DIR, "eval/return")
        assert [step for step, _ in logged] == EVAL_STEPS
        assert [value for _, value in logged] == pytest.approx(parquet.loc[EVAL_STEPS].tolist())
        offline = list((folder / WANDB_DIR / "wandb").glob(f"offline-run-*-logged-{run_id}"))
        assert len(offline) == 1, list((folder / WANDB_DIR).rglob("*"))
    # an interrupted member: the group is recomputed whole, and every step is already logged
    (store.run_dir(root, run_ids[0]) / results.STATUS_FILE).unlink()
    assert execute.run_sweep(sweep, root, progress=False)
    for run_id in run_ids:
        logged = scalars(store.run_dir(root, run_id) / TENSORBOARD_DIR, "eval/return")
        assert [step for step, _ in logged] == EVAL_STEPS


def _rows(run_id: str, steps: list[int]) -> list[dict]:
    return [
        {"run_id": run_id, "env_steps": s, "metric": m, "value": float(s) + (m == "b")}
        for s in steps
        for m in ("a", "b")
    ]


def test_a_reopened_log_continues_after_its_last_step_and_ignores_other_runs(tmp_path):
    run = RunSpec({"seed": 0, "env": "jax:pendulum"})
    folder = lambda run_id: tmp_path / run_id  # noqa: E731
    first = RunLogs(["tensorboard"], [run], folder, "s", "g")
    first(_rows(run.run_id, [10, 20]) + _rows("not-this-one", [10]))
    first.close()
    again = RunLogs(["tensorboard"], [run], folder, "s", "g")  # a resume recomputing from 0
    again(_rows(run.run_id, [10, 20, 30]))
    again.close()
    assert scalars(tmp_path / run.run_id / TENSORBOARD_DIR, "b") == [(10, 11), (20, 21), (30, 31)]
    assert not (tmp_path / "not-this-one").exists()


def test_unknown_logger_in_a_spec_names_the_line_and_the_valid_sinks(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(SPEC.replace("[parquet, tensorboard, wandb]", "[tensorbord]"))
    with pytest.raises(ConfigError, match=r"bad.yaml:7 \(loggers\).*'tensorboard', 'wandb'"):
        load_sweep(spec)


def test_a_logger_whose_package_is_missing_is_refused_naming_the_extra(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a)
    )
    spec = tmp_path / "logged.yaml"
    spec.write_text(SPEC)
    with pytest.raises(ConfigError, match=r"\(loggers\): \['wandb'\] not installed.*\[logging\]"):
        load_sweep(spec)
