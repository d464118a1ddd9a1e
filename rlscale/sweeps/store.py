"""A sweep's directory: the spec as given, its plan, and one folder per run.

    <out>/spec.yaml                      the spec file, byte for byte
    <out>/plan.json                      run_id -> resolved config, for `status` and resume checks
    <out>/runs/<run_id>/config.yaml      the run's resolved flat config
    <out>/runs/<run_id>/metrics.parquet  long-format metrics (the `rlscale train` schema)
    <out>/runs/<run_id>/status.json      {"state": running|done|diverged|failed, ...}

Every file is written write-then-rename, and a run's status turns done/diverged only after its
metrics are in place, so a crash at any instant leaves either a finished run or an unfinished one.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from rlscale.config import ConfigError
from rlscale.results import (
    CONFIG_FILE,
    METRICS_FILE,
    STATUS_FILE,
    atomic_write_bytes,
    read_status,
    write_metrics,
    write_status,
)
from rlscale.sweeps.spec import Sweep
from rlscale.training.group import RunSpec

SPEC_FILE = "spec.yaml"
PLAN_FILE = "plan.json"
FINISHED = ("done", "diverged")  # states resume never reruns


def run_dir(root: Path, run_id: str) -> Path:
    return Path(root) / "runs" / run_id


def _flat_diff(old: Any, new: Any, prefix: str = "") -> list[str]:
    """`key: old -> new` lines for every differing leaf of two parsed YAML trees."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines = []
        for key in [*old, *(k for k in new if k not in old)]:
            lines += _flat_diff(
                old.get(key, "<absent>"), new.get(key, "<absent>"), f"{prefix}{key}."
            )
        return lines
    same = json.dumps(old, default=str) == json.dumps(new, default=str)  # NaN equals NaN here
    return [] if same else [f"{prefix.rstrip('.')}: {old!r} -> {new!r}"]


def prepare(root: Path, sweep: Sweep) -> None:
    """Create the sweep dir, or check that an existing one was made from the same sweep.

    Raises:
        ConfigError: the dir holds a different spec (or the same spec now resolving to other
            runs, e.g. after a preset changed); the message lists what differs.
    """
    root = Path(root)
    plan = {run.run_id: run.config for run in sweep.runs}
    if (root / SPEC_FILE).is_file():
        old = yaml.safe_load((root / SPEC_FILE).read_text()) or {}
        diff = _flat_diff(old, sweep.data)
        if not diff and (root / PLAN_FILE).is_file():
            old_plan = json.loads((root / PLAN_FILE).read_text())
            if set(old_plan) != set(plan):
                diff = [
                    "same spec, but it now resolves to other runs (a preset or default "
                    "changed); first run:",
                    *_flat_diff(next(iter(old_plan.values()), {}), next(iter(plan.values()), {})),
                ]
        if diff:
            raise ConfigError(
                f"{root} holds a different sweep; refusing to resume. Differences "
                f"(theirs -> yours):\n  " + "\n  ".join(diff) + "\nUse --out to write elsewhere."
            )
    atomic_write_bytes(root / SPEC_FILE, sweep.text.encode())
    atomic_write_bytes(root / PLAN_FILE, json.dumps(plan, indent=1, default=str).encode())


def state(root: Path, run_id: str) -> str | None:
    status = read_status(run_dir(root, run_id) / STATUS_FILE)
    return None if status is None else status.get("state")


def is_finished(root: Path, run_id: str) -> bool:
    return state(root, run_id) in FINISHED


def _stamp() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "time": time.time()}


def mark_running(root: Path, run: RunSpec) -> None:
    path = run_dir(root, run.run_id)
    atomic_write_bytes(path / CONFIG_FILE, yaml.safe_dump(run.config, sort_keys=False).encode())
    write_status(path / STATUS_FILE, {"state": "running", **_stamp()})


def mark_failed(root: Path, run: RunSpec, error: str) -> None:
    write_status(
        run_dir(root, run.run_id) / STATUS_FILE, {"state": "failed", "error": error, **_stamp()}
    )


def finish(
    root: Path, run: RunSpec, frame: pd.DataFrame, reset_env_steps: tuple[int, ...] = ()
) -> str:
    """Write a run's metrics, then its final status (with the env steps after which its agent
    was reset, if it was); returns "done" or "diverged"."""
    path = run_dir(root, run.run_id)
    write_metrics(frame, path / METRICS_FILE)
    diverged = frame[(frame.metric == "run/diverged") & (frame.value > 0)]
    status: dict[str, Any] = {"state": "done", **_stamp()}
    if reset_env_steps:
        status["reset_env_steps"] = list(reset_env_steps)
    if len(diverged):
        # Chunk resolution: the first eval point after the non-finite update.
        status.update(state="diverged", diverged_at_env_steps=int(diverged.env_steps.min()))
    write_status(path / STATUS_FILE, status)
    return status["state"]


def _alive(status: dict[str, Any]) -> bool:
    """Whether a "running" record's process still exists (checkable on this host only)."""
    if status.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(status["pid"]), 0)
    except (OSError, KeyError, ValueError):
        return False
    return True


def summary(root: Path) -> pd.DataFrame:
    """One row per planned run: run_id, state, and the config keys that vary across the sweep.

    States: done, diverged, failed, running, interrupted (its process is gone), pending.
    """
    root = Path(root)
    if not (root / PLAN_FILE).is_file():
        raise ConfigError(f"{root}: not a sweep dir (no {PLAN_FILE}); run `rlscale sweep` first")
    plan = json.loads((root / PLAN_FILE).read_text())
    configs = pd.DataFrame.from_dict(plan, orient="index")
    varying = [c for c in configs.columns if configs[c].astype(str).nunique() > 1]
    rows = []
    for run_id, config in plan.items():
        status = read_status(run_dir(root, run_id) / STATUS_FILE) or {"state": "pending"}
        name = status["state"]
        if name == "running" and not _alive(status):
            name = "interrupted"
        extra = status.get("diverged_at_env_steps", status.get("error", ""))
        rows.append(
            {"run_id": run_id, "state": name, **{k: config[k] for k in varying}, "note": extra}
        )
    return pd.DataFrame(rows)
