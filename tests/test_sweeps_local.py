"""The local executor end to end through the CLI: results layout, status, divergence isolation,
and resume after kill -9 at three points giving metrics identical to an uninterrupted sweep.

Every sweep runs as an `rlscale sweep` subprocess sharing one JAX persistent compilation cache,
so each of the two compiled groups is compiled once for the whole module.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from rlscale import results
from rlscale.cli import main
from rlscale.sweeps import store
from rlscale.sweeps.spec import load_sweep

SPEC = """\
name: kill
agent: {preset: sac, overrides: {critic_width: 16, actor_width: 16, batch_size: 16,
                                   warmup_steps: 64}}
env: jax:pendulum
budget: {env_steps: 1000, eval_every: 250, eval_episodes: 1}
seeds: 2
grid: {utd: [1, 2]}
zip: {learning_rate: [0.001, LR]}   # LR 1e30: that member diverges at its first update
"""
KEYS = ["run_id", "env_steps", "metric"]


def sweep(tmp: Path, spec: Path, out: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "JAX_COMPILATION_CACHE_DIR": str(tmp / "jax-cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }
    command = [
        sys.executable,
        "-m",
        "rlscale.cli",
        "sweep",
        str(spec),
        "--out",
        str(out),
        "--quiet",
    ]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(process: subprocess.Popen) -> None:
    output = process.communicate(timeout=300)[0].decode()
    assert process.returncode == 0, output


def statuses(out: Path) -> dict[str, tuple[str, int]]:
    """run_id -> (state, status.json mtime in ns) for every run that has a status record."""
    found = {}
    for path in (out / "runs").glob(f"*/{results.STATUS_FILE}"):
        status = results.read_status(path)
        if status:  # None if it vanished between glob and read (an atomic rename in flight)
            found[path.parent.name] = (status["state"], path.stat().st_mtime_ns)
    return found


def metrics(out: Path) -> pd.DataFrame:
    frame = results.read(out).drop(columns=["wall_time"])  # the one column timing-dependent
    return frame.sort_values(KEYS).reset_index(drop=True)


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """Uninterrupted sweeps: `nan` (one zip member diverges) and `clean` (it does not)."""
    tmp = tmp_path_factory.mktemp("sweeps")
    specs = {name: tmp / f"{name}.yaml" for name in ("nan", "clean")}
    # 1e30: Adam's first step moves each parameter by ~1e30, so the critic's parameter norm
    # overflows float32 and the first update is already refused (learning_rate .nan, which this
    # used, is refused by the config now).
    specs["nan"].write_text(SPEC.replace("LR", "1.0e30"))
    specs["clean"].write_text(SPEC.replace("LR", "0.002"))
    for name, spec in specs.items():
        finish(sweep(tmp, spec, tmp / name))
    return tmp, specs


def test_sweep_writes_the_results_layout_and_status_reports_each_run(sweeps, capsys):
    tmp, specs = sweeps
    out = tmp / "nan"
    sweep_runs = load_sweep(specs["nan"]).runs
    assert (out / "spec.yaml").read_text() == specs["nan"].read_text()
    frame = results.read(out)
    for run in sweep_runs:
        folder = out / "runs" / run.run_id
        assert sorted(p.name for p in folder.iterdir()) == [
            "config.yaml",
            "metrics.parquet",
            "status.json",
        ]
        rows = frame[frame.run_id == run.run_id]
        assert set(rows.seed) == {run.config["seed"]} and set(rows.utd) == {run.config["utd"]}
        assert sorted(rows[rows.metric == "eval/return"].env_steps) == [250, 500, 750, 1000]
    assert {*results.RUN_COLUMNS, *results.POINT_COLUMNS} <= set(frame.columns)
    diverged = {r.run_id for r in sweep_runs if r.config["learning_rate"] > 1}
    assert {k for k, v in statuses(out).items() if v[0] == "diverged"} == diverged
    assert set(frame[frame.run_id.isin(diverged)].status) == {"diverged"}
    assert main(["status", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "4 done, 4 diverged" in printed
    assert all(run.run_id in printed for run in sweep_runs)


def test_a_diverged_member_leaves_its_vmapped_siblings_bit_identical(sweeps):
    tmp, _ = sweeps
    with_nan, clean = metrics(tmp / "nan"), metrics(tmp / "clean")
    siblings = set(with_nan.run_id) & set(clean.run_id)  # same config + seed -> same run_id
    assert len(siblings) == 4  # the learning_rate=0.001 runs, 2 utd x 2 seeds
    mine = with_nan[with_nan.run_id.isin(siblings)].reset_index(drop=True)
    theirs = clean[clean.run_id.isin(siblings)].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        mine.drop(columns="status"), theirs.drop(columns="status"), check_exact=True
    )
    frozen = with_nan[~with_nan.run_id.isin(siblings)]
    assert (frozen[frozen.metric == "run/diverged"].value == 1).all()
    assert (frozen[frozen.metric == "critic/loss"].value == 0).all()  # no update ever accepted


def test_rerunning_a_finished_sweep_redoes_nothing(sweeps):
    tmp, specs = sweeps
    before = statuses(tmp / "clean")
    assert main(["sweep", str(specs["clean"]), "--out", str(tmp / "clean"), "--quiet"]) == 0
    assert statuses(tmp / "clean") == before  # no status (nor metrics) rewritten


def _kill_when(process: subprocess.Popen, out: Path, ready, started: float) -> None:
    deadline = time.time() + 240
    while not ready(statuses(out), started):
        assert process.poll() is None, "the sweep ended before the kill point"
        assert time.time() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()


KILL_POINTS = {  # (state, mtime) per run -> kill now?
    "first group running": lambda s, t: any(v[0] == "running" for v in s.values()),
    "first group finished": lambda s, t: sum(v[0] in store.FINISHED for v in s.values()) >= 4,
    "second group running again": lambda s, t: any(
        v[0] == "running" and v[1] > t for v in s.values()
    ),
}


def test_kill_9_at_three_points_then_resume_matches_an_uninterrupted_sweep(sweeps):
    tmp, specs = sweeps
    out = tmp / "killed"
    finished_at_kill: dict[str, tuple[str, int]] = {}
    for name, ready in KILL_POINTS.items():
        started = time.time_ns()
        _kill_when(sweep(tmp, specs["nan"], out), out, ready, started)
        now = statuses(out)
        for run_id, (state, mtime) in finished_at_kill.items():
            assert now[run_id] == (state, mtime), f"{name}: finished run {run_id} was redone"
        finished_at_kill = {k: v for k, v in now.items() if v[0] in store.FINISHED}
    assert len(finished_at_kill) == 4  # the kills really left work to resume
    finish(sweep(tmp, specs["nan"], out))
    final = statuses(out)
    assert {k: final[k] for k in finished_at_kill} == finished_at_kill
    assert sorted(final) == sorted(r.run_id for r in load_sweep(specs["nan"]).runs)
    assert all(state in store.FINISHED for state, _ in final.values())
    pd.testing.assert_frame_equal(metrics(out), metrics(tmp / "nan"), check_exact=True)
