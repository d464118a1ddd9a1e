"""Mid-run checkpoints: a resumed group's metrics are bit-identical to an uninterrupted run's, a
damaged checkpoint is passed over (never a crash), and kill -9 at any point loses nothing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from rlscale import config
from rlscale.cli import main
from rlscale.training import runner
from rlscale.training.checkpoint import GroupCheckpoints
from rlscale.training.group import group_runs, seed_runs

TINY = {
    "steps": 500,
    "eval_every": 250,
    "warmup_steps": 64,
    "batch_size": 16,
    "critic_width": 16,
    "actor_width": 16,
    "eval_episodes": 1,
}


class Kill(Exception):  # noqa: N818 (a stop, not an error)
    pass


@pytest.fixture(scope="module", autouse=True)
def compiled_once():
    """One build per group signature for the whole module: each resume reuses the programs."""
    built: dict = {}
    original = runner.build

    def build(group, runs=None):
        key = (group.runs[0].static_key, len(group.runs))
        if key not in built:
            built[key] = original(group, runs)
        return built[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "build", build)
        yield


def _metrics(result) -> dict:
    return {run_id: f.drop(columns="wall_time") for run_id, f in result.frames.items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k].equals(b[k]) for k in a)


@pytest.fixture(scope="module")
def uninterrupted():
    """The reference: the group trained in one go, its eval interval one compiled chunk."""
    (group,) = group_runs(seed_runs(config.resolve(TINY), 2))
    return _metrics(runner.run_group(group, progress=False))


@pytest.fixture(scope="module")
def split():
    (group,) = group_runs(seed_runs(config.resolve({**TINY, "checkpoint_every": 125}), 2))
    return group


def _interrupted(group, root: Path, at: int) -> list[Path]:
    """Train `group` with checkpoints until it is stopped after segment `at`."""
    dirs = [root / run.run_id for run in group.runs]

    def stop(index: int) -> None:
        if index == at:
            raise Kill

    checkpoints = GroupCheckpoints(dirs, group.loop.checkpoint_every)
    with pytest.raises(Kill):
        runner.run_group(group, progress=False, on_chunk=stop, checkpoints=checkpoints)
    checkpoints.close()
    return dirs


def _resume(group, dirs, log=print):
    seen: list[int] = []
    checkpoints = GroupCheckpoints(dirs, group.loop.checkpoint_every, log=log)
    result = runner.run_group(group, progress=False, on_chunk=seen.append, checkpoints=checkpoints)
    checkpoints.close()
    return result, seen, checkpoints


def test_a_resumed_group_is_bit_identical_to_an_uninterrupted_one(split, uninterrupted, tmp_path):
    """Catches: any part of the runner state not saved or restored exactly (replay buffer, RNG
    keys, optimiser state, episode state, the half-finished chunk's training-return sums), rows
    lost or doubled, and a split chunk changing the numbers (checkpoint_every is not in run_id)."""
    dirs = _interrupted(split, tmp_path, at=2)  # after the checkpoint at 375 env steps
    assert sorted(p.name for p in (dirs[0] / "checkpoints").iterdir()) == ["250", "375"]  # keep 2
    result, seen, _ = _resume(split, dirs)
    assert result.resumed_from_env_steps == 375 and seen == [3]  # only the last segment ran
    assert _same(_metrics(result), uninterrupted)


def _damage(step_dir: Path) -> None:
    """Flip bytes in every array file of a checkpoint, leaving its structure intact."""
    for path in (step_dir / "state").rglob("d/*"):
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))


def test_a_damaged_checkpoint_falls_back_to_an_older_one_then_to_step_0(
    split, uninterrupted, tmp_path
):
    """Catches: damaged arrays restored silently (orbax has no checksum of its own), or a
    damaged checkpoint crashing the resume instead of being passed over."""
    dirs = _interrupted(split, tmp_path, at=2)
    _damage(dirs[1] / "checkpoints" / "375")
    said: list[str] = []
    result, _, checkpoints = _resume(split, dirs, said.append)
    assert result.resumed_from_env_steps == 250 and _same(_metrics(result), uninterrupted)
    assert any("375 is damaged" in line and "falling back" in line for line in said)
    assert checkpoints.damaged and dirs[1].name in checkpoints.damaged[0]
    for step in ("250", "375"):
        (dirs[0] / "checkpoints" / step / "meta" / "metadata").write_text("{garbled")
    said.clear()
    result, seen, _ = _resume(split, dirs, said.append)
    assert result.resumed_from_env_steps == 0 and seen == [0, 1, 2, 3]
    assert _same(_metrics(result), uninterrupted)
    assert any("starting from step 0" in line for line in said)


def test_checkpoint_every_must_fit_n_envs():
    with pytest.raises(config.ConfigError, match="checkpoint_every=3 must be a multiple of n_envs"):
        config.resolve({**TINY, "n_envs": 2, "checkpoint_every": 3})


SPEC = """\
name: kills
agent: {preset: sac, overrides: {critic_width: 16, actor_width: 16, batch_size: 16,
                                   warmup_steps: 64}}
env: jax:pendulum
budget: {env_steps: 500, eval_every: 250, eval_episodes: 1, checkpoint_every: 125}
seeds: 2
"""


def _status(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in out.glob("runs/*/status.json")}


def test_dry_run_prints_checkpoint_disk_use_and_worst_case_loss(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    command = ["sweep", str(spec), "--out", str(tmp_path / "o"), "--dry-run", "--throughput"]
    assert main([*command, "1e9"]) == 0
    printed = capsys.readouterr().out
    assert "GiB on disk while training" in printed and "worst-case work lost per kill" in printed


def _reached(out: Path, where: str) -> bool:
    """Whether the launcher writing `out` reached kill position `where`."""
    states = [s["state"] for s in _status(out).values()]
    ckpts = [p.name for p in out.glob("runs/*/checkpoints/*")]
    return {
        "compiling": "running" in states,
        "first checkpoint": sum(name == "125" for name in ckpts) == 2,
        "mid-write": any("tmp" in name for name in ckpts),
        "last checkpoint": sum(name == "375" for name in ckpts) == 2,
        "between finished runs": "done" in states,
    }[where]


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> tuple[Path, Path]:
    """SPEC swept in one go: the reference every killed-and-resumed sweep must reproduce."""
    tmp = tmp_path_factory.mktemp("reference")
    (tmp / "spec.yaml").write_text(SPEC)
    assert main(["sweep", str(tmp / "spec.yaml"), "--out", str(tmp / "out"), "--quiet"]) == 0
    return tmp / "spec.yaml", tmp / "out"


@pytest.mark.slow
@pytest.mark.parametrize(
    "where",
    ["compiling", "first checkpoint", "mid-write", "last checkpoint", "between finished runs"],
)
def test_kill_9_anywhere_then_resume_finishes_each_run_once_bit_identically(where, swept, tmp_path):
    """Catches: a kill leaving a half-written checkpoint that resume trusts or crashes on, runs
    trained twice or lost, resumed metrics that differ, checkpoints left behind once done."""
    spec, reference = swept
    out = tmp_path / "out"
    command = [sys.executable, "-m", "rlscale.cli", "sweep", str(spec), "--out", str(out)]
    launcher = subprocess.Popen([*command, "--quiet"], stdout=subprocess.PIPE, text=True)
    while not _reached(out, where):
        assert launcher.poll() is None, f"finished before {where}: {launcher.communicate()[0]}"
        time.sleep(0.002)
    launcher.send_signal(signal.SIGKILL)
    launcher.wait()
    before = _status(out)
    had_checkpoint = any(p.name.isdigit() for p in out.glob("runs/*/checkpoints/*"))
    assert main(["sweep", str(spec), "--out", str(out), "--quiet"]) == 0
    status = _status(out)
    assert {s["state"] for s in status.values()} == {"done"} and len(status) == 2
    retrained = [r for r in status if before.get(r, {}).get("state") != "done"]
    for run_id in retrained:  # each run finished once: one more start than before the kill
        assert status[run_id]["attempts"] == before.get(run_id, {}).get("attempts", 0) + 1
    resumed = [status[r].get("resumed_from_env_steps", 0) for r in retrained]
    assert all(steps > 0 for steps in resumed) == had_checkpoint or not retrained
    assert not list(out.glob("runs/*/checkpoints"))  # deleted once the group finished
    for run_id in status:
        got, expected = (
            pd.read_parquet(root / "runs" / run_id / "metrics.parquet").drop(columns="wall_time")
            for root in (out, reference)
        )
        assert got.equals(expected), run_id
