"""Faults a shared cluster produces: damaged files are detected, reported and redone; two
launchers on one sweep directory train every run once; a dead launcher's lease is taken over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlscale.cli import main
from rlscale.sweeps import lease

SPEC = """\
name: faults
agent: {preset: sac, overrides: {critic_width: 16, actor_width: 16, batch_size: 16,
                                   warmup_steps: 64}}
env: jax:pendulum
budget: {env_steps: 500, eval_every: 250, eval_episodes: 1}
seeds: 2
grid: {utd: [1, 2]}
"""


def _status(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in out.glob("runs/*/status.json")}


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    spec = tmp / "spec.yaml"
    spec.write_text(SPEC)
    assert main(["sweep", str(spec), "--out", str(tmp / "out"), "--quiet"]) == 0
    return spec, tmp / "out"


def test_damaged_files_are_named_skipped_by_analyze_and_redone_by_sweep(swept, capsys, tmp_path):
    """Catches: a garbled metrics file trusted as finished (status `done`, skipped by resume) or
    crashing `analyze`; a garbled status.json crashing `status` with a JSONDecodeError."""
    spec, out = swept
    first, second = sorted(_status(out))[:2]
    (out / "runs" / first / "metrics.parquet").write_bytes(b"garbage")
    (out / "runs" / second / "status.json").write_text("{not json")
    capsys.readouterr()
    assert main(["status", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "metrics.parquet fails its checksum" in shown and "status.json does not parse" in shown
    assert shown.count("corrupt") >= 2
    assert main(["analyze", str(out), "--out", str(tmp_path / "report")]) == 0
    assert f"skipped {out / 'runs' / first}: metrics.parquet fails" in capsys.readouterr().out
    assert main(["sweep", str(spec), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert (
        f"re-queued corrupt run {first}" in printed and f"re-queued corrupt run {second}" in printed
    )
    assert {s["state"] for s in _status(out).values()} == {"done"}


def test_a_damaged_plan_is_an_error_not_a_traceback(tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "plan.json").write_text("[1, 2")
    assert main(["status", str(broken)]) == 2
    assert "plan.json is damaged" in capsys.readouterr().err


def test_two_launchers_on_one_sweep_train_every_run_once(tmp_path):
    """Catches: both launchers training every group (measured before leases: twice the work)."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    command = [sys.executable, "-m", "rlscale.cli", "sweep", str(spec), "--out", str(tmp_path)]
    launchers = [
        subprocess.Popen([*command, "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(2)
    ]
    for launcher in launchers:
        output = launcher.communicate(timeout=600)[0].decode()
        assert launcher.returncode == 0, output
    status = _status(tmp_path)
    assert len(status) == 4 and {s["state"] for s in status.values()} == {"done"}
    assert [s["attempts"] for s in status.values()] == [1, 1, 1, 1]


def test_a_dead_launchers_lease_is_taken_over_and_a_live_one_is_not(tmp_path):
    path = lease.lease_path(tmp_path, ["a", "b"])
    path.parent.mkdir(parents=True)
    pid = "import os; print(os.getpid())"
    dead = subprocess.run([sys.executable, "-c", pid], text=True, capture_output=True).stdout
    path.write_text(json.dumps({"host": os.uname().nodename, "pid": int(dead), "start": 0}))
    assert lease.acquire(tmp_path, ["b", "a"]) == path  # its process is gone: taken over
    assert lease.acquire(tmp_path, ["a", "b"]) is None  # now held by this live process
    other_host = {"host": "elsewhere", "pid": 1, "start": 0}
    path.write_text(json.dumps(other_host))
    assert lease.acquire(tmp_path, ["a", "b"]) is None  # fresh heartbeat on another host
    os.utime(path, (0, 0))  # its heartbeat stopped long ago
    assert lease.acquire(tmp_path, ["a", "b"]) == path


def test_sigterm_stops_after_the_running_chunk_and_marks_runs_interrupted(tmp_path):
    """Catches: SIGTERM killing the launcher mid-chunk with runs left `running` (or lost)."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("env_steps: 500", "env_steps: 20000"))
    command = [sys.executable, "-m", "rlscale.cli", "sweep", str(spec), "--out", str(tmp_path)]
    launcher = subprocess.Popen([*command, "--quiet"], stdout=subprocess.PIPE, text=True)
    while not any(s["state"] == "running" for s in _status(tmp_path).values()):
        assert launcher.poll() is None, launcher.communicate()[0]
        time.sleep(0.2)
    launcher.send_signal(signal.SIGTERM)
    output = launcher.communicate(timeout=300)[0]
    assert launcher.returncode == 143, output
    assert "stopped by SIGTERM" in output
    assert {s["state"] for s in _status(tmp_path).values()} == {"interrupted"}
