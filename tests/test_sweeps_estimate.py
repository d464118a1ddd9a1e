"""Dry-run cost: XLA-counted FLOPs per group and device-hours at a measured rate."""

import pandas as pd
import pytest

from rlscale import results
from rlscale.cli import main
from rlscale.sweeps import estimate, execute
from rlscale.sweeps.spec import load_sweep

SPEC = """\
name: cost
agent: {preset: sac, overrides: {critic_width: 16, actor_width: 16, warmup_steps: 100}}
env: jax:pendulum
budget: {env_steps: 1000, eval_every: 500}
seeds: 3
grid: {utd: [1, 4], batch_size: [16, 32]}
"""


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("cost") / "cost.yaml"
    path.write_text(SPEC)
    return path, estimate.costs(execute.plan(load_sweep(path)))


def test_costs_count_updates_after_warmup_and_flops_scale_with_batch(table):
    _, costs = table
    assert len(costs) == 4 and (costs.runs == 3).all()
    assert sorted(costs.updates.unique()) == [900, 3600]  # σ·(steps - warm-up)
    by_batch = costs.groupby("batch_size").flops_per_update.first()
    assert by_batch[32] == pytest.approx(2 * by_batch[16], rel=0.1)  # the update is linear in B
    assert (costs.flops == costs.flops_per_update * costs.updates * costs.runs).all()


def test_measured_rate_counts_each_groups_wall_clock_once(tmp_path):
    rows = []
    for run, (wall, flops) in enumerate([(10.0, 100.0), (10.0, 300.0), (30.0, 200.0)]):
        rows.append(
            {
                "run_id": f"r{run}",
                "agent": "sac",
                "env": "jax:pendulum",
                "seed": run,
                "utd": 1.0,
                "batch_size": 16,
                "critic_width": 16,
                "learning_rate": 1e-3,
                "env_steps": 1000,
                "updates": 1000,
                "wall_time": wall,
                "metric": "compute/flops",
                "value": flops,
            }
        )
    frame = pd.DataFrame(rows)
    for run_id, run in frame.groupby("run_id"):
        results.write_metrics(run.reset_index(drop=True), tmp_path / run_id / results.METRICS_FILE)
    # groups: the two runs ending at 10 s (400 FLOPs) and the one at 30 s (200 FLOPs)
    assert estimate.measured_rate(tmp_path) == pytest.approx(600.0 / 40.0)


def test_dry_run_prints_the_cost_and_hours_at_a_given_rate(table, capsys):
    path, costs = table
    assert main(["sweep", str(path), "--dry-run", "--throughput", "1e6"]) == 0
    out = capsys.readouterr().out
    assert f"{costs.flops.sum():.3g} FLOPs" in out
    assert f"{costs.flops.sum() / 1e6 / 3600:.2g} h" in out
