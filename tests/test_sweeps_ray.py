"""The Ray executor on a real local Ray instance (2 CPUs): a job whose worker dies mid-job is
retried, and the sweep completes with every run written exactly once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rlscale import results
from rlscale.sweeps import execute, store
from rlscale.sweeps.spec import load_sweep

ray = pytest.importorskip("ray")

SPEC = """\
name: ray
agent: {preset: sac, overrides: {critic_width: 16, actor_width: 16, batch_size: 16,
                                   warmup_steps: 64}}
env: jax:pendulum
budget: {env_steps: 500, eval_every: 250, eval_episodes: 1}
seeds: 2
"""


def make_killer(marker: Path):
    """An on_chunk hook that kills its own worker process after the first chunk of the first
    attempt (the marker file survives the worker and tells the retry not to die)."""

    def on_chunk(index: int) -> None:
        with open(marker.with_suffix(".log"), "a") as log:
            log.write(f"{os.getpid()} chunk {index}\n")
        if index == 0 and not marker.exists():
            marker.touch()
            os._exit(1)  # no cleanup, no exception: what a crashed or OOM-killed worker does

    return on_chunk


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_a_job_killed_mid_run_is_retried_and_every_run_completes_once(local_ray, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    sweep = load_sweep(spec)
    out = tmp_path / "out"
    store.prepare(out, sweep)
    marker = tmp_path / "killed"
    options = execute.RayOptions(cpus_per_job=1, max_retries=2)
    states = execute.run_ray(execute.plan(sweep), out, options, on_chunk=make_killer(marker))
    assert marker.exists()  # the first attempt did die mid-job
    attempts = marker.with_suffix(".log").read_text().splitlines()
    assert len({line.split()[0] for line in attempts}) == 2  # two worker processes
    assert [line.split(" ", 1)[1] for line in attempts] == ["chunk 0", "chunk 0", "chunk 1"]
    run_ids = sorted(run.run_id for run in sweep.runs)
    assert sorted(states) == run_ids and set(states.values()) == {"done"}
    assert sorted(p.parent.name for p in out.rglob(results.METRICS_FILE)) == run_ids
    frame = results.read(out)
    per_run = frame[frame.metric == "eval/return"].groupby("run_id").env_steps.apply(list)
    assert per_run.to_dict() == {run_id: [250, 500] for run_id in run_ids}  # each point once
    assert set(frame.status) == {"done"}
