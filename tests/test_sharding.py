"""A group with at least as many runs as local devices is ONE program split over a 'runs' mesh:
checked on 4 forced host devices in a subprocess (XLA reads the device count once per process)
against the same group trained here on one device."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rlscale.config import resolve
from rlscale.training import sharding
from rlscale.training.group import group_runs, seed_runs

TINY = {
    "steps": 100,
    "eval_every": 50,
    "eval_episodes": 1,
    "warmup_steps": 32,
    "batch_size": 8,
    "critic_width": 8,
    "actor_width": 8,
}
RUNS = 6  # not a multiple of 4: padded to 8, two runs per device

SHARDED = """
import json, sys
import jax
from rlscale.config import resolve
from rlscale.training import records, sharding
from rlscale.training.group import group_runs, seed_runs
from rlscale.training.runner import build, run_group

(group,) = group_runs(seed_runs(resolve(json.loads(sys.argv[1])), int(sys.argv[2])))
runs = sharding.for_group(len(group.runs))
env, agent, init, _ = build(group, runs)
state = init(*runs.place(records.initial_inputs(group, agent)))
shares = sorted({
    (str(shard.device), shard.data.shape[0])
    for leaf in jax.tree.leaves(state) for shard in leaf.addressable_shards
})
result = run_group(group, progress=False)
metrics = {
    run_id: frame[frame.metric.str.startswith(("eval/", "critic/", "actor/"))].value.tolist()
    for run_id, frame in result.frames.items()
}
print("RESULT", json.dumps({"shares": shares, "metrics": metrics}))
"""


@pytest.fixture(scope="module")
def sharded():
    env = {
        **os.environ,
        "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=4",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    out = subprocess.run(
        [sys.executable, "-c", SHARDED, json.dumps(TINY), str(RUNS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    return out.stdout, json.loads(line.removeprefix("RESULT "))


def test_each_device_holds_its_share_of_every_state_leaf(sharded):
    """Catches: inputs left on one device (one device would hold all 8 rows), a leaf that came
    out of init replicated (each device would hold 8), or no padding (6 rows do not split)."""
    log, result = sharded
    shares = {tuple(s) for s in result["shares"]}
    assert {share for _, share in shares} == {8 // 4}
    assert len({device for device, _ in shares}) == 4
    assert "group of 6 runs sharded over 4 cpu devices (2 runs each)" in log
    assert "padded with 2 copies of the last run" in log


def test_sharded_metrics_equal_the_single_device_run(sharded):
    """Catches: padded runs' rows kept, runs reordered across devices, or any coupling of runs
    by the partitioned program (metrics would differ from the one-device program's)."""
    from rlscale.training.runner import run_group

    _, result = sharded
    (group,) = group_runs(seed_runs(resolve(TINY), RUNS))
    assert sharding.for_group(len(group.runs)) is None  # here: one device
    single = run_group(group, progress=False)
    assert set(result["metrics"]) == set(single.frames)
    for run_id, frame in single.frames.items():
        mask = frame.metric.str.startswith(("eval/", "critic/", "actor/"))
        expected = frame[mask].value.to_numpy()
        assert len(expected) > 0
        np.testing.assert_allclose(result["metrics"][run_id], expected, rtol=1e-5, atol=1e-6)


def test_a_group_spans_the_devices_only_with_a_run_for_each():
    assert not sharding.spans_devices(3, 4)  # run_local gives such a group one device
    assert sharding.spans_devices(4, 4)
    assert not sharding.spans_devices(64, 1)
    assert sharding.per_device_runs(6, 4) == 2
    assert sharding.per_device_runs(3, 4) == 3


def test_the_planner_counts_one_devices_share_of_a_group_split_over_devices():
    """Catches: the planner budgeting a sharded group's whole state on one device (it would
    split 16 runs into parts of 2 on 4 devices, as on one) or packing more than a device holds."""
    from rlscale.sweeps.plan import run_bytes, split_groups

    (group,) = group_runs(seed_runs(resolve(TINY), 16))
    budget = run_bytes(group) * 2.0 * 2.5  # two runs (x2 headroom) fit one device
    assert [len(g.runs) for g in split_groups([group], budget, devices=1)] == [2] * 8
    assert [len(g.runs) for g in split_groups([group], budget, devices=4)] == [8, 8]


def test_part_sizes_never_give_one_device_more_runs_than_fit():
    from rlscale.sweeps.plan import part_sizes

    assert part_sizes(9, 2, 4) == [5, 4]  # 2 and 1 runs per device
    # 14 at one run per device: a balanced split would leave a part of 2 that cannot span 4
    # devices, so every part is one run, one device each.
    assert part_sizes(14, 1, 4) == [1] * 14
    assert part_sizes(3, 1, 4) == [1, 1, 1]
    for n, fit, devices in [(64, 3, 8), (100, 7, 4), (5, 2, 4), (256, 16, 1)]:
        sizes = part_sizes(n, fit, devices)
        assert sum(sizes) == n and len(set(sizes)) <= 2
        assert all(-(-s // devices) <= fit if s >= devices else s <= fit for s in sizes)
