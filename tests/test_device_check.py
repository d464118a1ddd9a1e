"""`benchmarks/device_check.py --smoke` runs every section of the device check at tiny sizes on
the CPU, so the script a device session runs cannot rot. The whole smoke run compiles about ten
small programs (724 s on 2 shared cores under load 12), so it is `slow`; the default suite runs
the script with every section skipped, which still imports everything the sections use and
writes and copies the result files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "device_check.py"


def _smoke(tmp_path: Path, budget_s: float) -> tuple[Path, dict]:
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, str(SCRIPT), "--smoke", "--budget-s", str(budget_s)]
    command += ["--results", str(tmp_path / "results"), "--out", str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, json.loads((out / "smoke-cpu.json").read_text())


def test_the_script_runs_and_writes_its_files_with_every_section_skipped(tmp_path):
    """Catches: an API the sections import renamed or moved, or the result files not written to
    --results and copied to --out (the device tool's $OUT)."""
    out, data = _smoke(tmp_path, 0)
    assert data["skipped"] == ["correctness", "scaling", "envs_in_loop", "memory"]
    table = (out / "smoke-cpu.md").read_text()
    assert table == (tmp_path / "results" / "smoke-cpu.md").read_text()
    assert "Skipped (time budget or --only): correctness, scaling" in table


@pytest.mark.slow
def test_the_smoke_run_writes_every_section(tmp_path):
    """Catches: a section that fails or was skipped, results not written to --results or copied
    to --out (the device tool's $OUT), or numbers that are not measurements (zero or negative)."""
    out, data = _smoke(tmp_path, 100_000)
    assert (tmp_path / "results" / "smoke-cpu.md").read_text() == (out / "smoke-cpu.md").read_text()
    assert data["skipped"] == [] and data["failed"] == {}
    assert data["smoke"] is True and data["deterministic"] is False
    assert data["provenance"]["command"]
    correctness = data["correctness"]
    assert correctness["first_update_ok"] and correctness["short_run_agree"]
    assert len(correctness["short_run"]["cpu"]) == data["sizes"]["seeds"]
    groups = data["scaling"]["groups"]
    assert list(groups) == ["1", "2"]
    assert all(g["updates_per_s"] > 0 and g["mfu"] > 0 for g in groups.values())
    env_check = data["envs_in_loop"]["jax:pendulum"]
    assert env_check["bare"]["steps_per_s"] > 0 and env_check["loop_over_bare"] > 0
    memory = data["memory"]
    assert memory["planned"] >= 1 and memory["largest_ran"] >= memory["planned"]
    assert "| runs | updates/s per run |" in (out / "smoke-cpu.md").read_text()
