"""A sweep's directory: the spec as given, its plan, and one folder per run.

    <out>/spec.yaml                      the spec file, byte for byte
    <out>/plan.json                      run_id -> resolved config, for `status` and resume checks
    <out>/runs/<run_id>/config.yaml      the run's resolved flat config
    <out>/runs/<run_id>/metrics.parquet  long-format metrics (the `rlscale train` schema)
    <out>/runs/<run_id>/status.json      {"state": running|done|diverged|failed, ...}
    <out>/runs/<run_id>/tensorboard/     event files, with `loggers: [tensorboard]` in the spec
    <out>/runs/<run_id>/wandb/           the W&B run (offline or synced), with `loggers: [wandb]`
    <out>/runs/<run_id>/checkpoints/     orbax checkpoints of an unfinished run, by env step

Every file is written write-then-rename, and a run's status turns done/diverged only after its
metrics are in place, so a crash at any instant leaves either a finished run or an unfinished one.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from rlscale.config import ConfigError
from rlscale.results import (
    CONFIG_FILE,
    CORRUPT,
    METRICS_FILE,
    STATUS_FILE,
    atomic_write_bytes,
    file_sha256,
    read_status,
    verify,
    write_metrics,
    write_status,
)
from rlscale.sweeps.spec import Sweep
from rlscale.training.group import RunSpec

CHECKPOINT_DIR = "checkpoints"  # rlscale.training.checkpoint's, named here without JAX
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
        try:
            old = yaml.safe_load((root / SPEC_FILE).read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{root / SPEC_FILE} is damaged ({error}); use --out") from None
        # Where the logs go is no part of what runs: a resume may add or drop a logger.
        diff = _flat_diff(
            *({k: v for k, v in d.items() if k != "loggers"} for d in (old, sweep.data))
        )
        if not diff and (root / PLAN_FILE).is_file():
            try:
                old_plan = _read_plan(root)
            except ConfigError:  # damaged: the spec matches, so it is rewritten below
                old_plan = plan
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


def log_settings(root: Path) -> tuple[tuple[str, ...], str]:
    """(the `loggers:` of the sweep stored at `root`, its name: the W&B group of its runs); no
    loggers for a dir without a spec (a group run on its own, `execute.run_job`)."""
    path = Path(root) / SPEC_FILE
    spec = (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}
    return tuple(spec.get("loggers") or ()), str(spec.get("name", Path(root).name))


def problem(root: Path, run_id: str) -> str | None:
    """Why a run's files cannot be trusted (`results.verify`), for a run that claims to have
    finished or whose status does not parse; None otherwise."""
    status = read_status(run_dir(root, run_id) / STATUS_FILE)
    if status is None or status["state"] not in (*FINISHED, CORRUPT):
        return None
    return verify(run_dir(root, run_id), status)


def _read_plan(root: Path) -> dict[str, Any]:
    try:
        plan = json.loads((root / PLAN_FILE).read_text())
    except ValueError as error:
        raise ConfigError(
            f"{root / PLAN_FILE} is damaged ({error}): rerun `rlscale sweep` with the spec to "
            "rewrite it (finished runs are kept)"
        ) from None
    if not isinstance(plan, dict):
        raise ConfigError(f"{root / PLAN_FILE} is damaged: not a mapping of run ids")
    return plan


def state(root: Path, run_id: str) -> str | None:
    """The run's state; `corrupt` when it claims to have finished but its files do not verify."""
    status = read_status(run_dir(root, run_id) / STATUS_FILE)
    if status is None:
        return None
    return CORRUPT if problem(root, run_id) is not None else status["state"]


def corrupt_runs(root: Path, sweep: Sweep) -> dict[str, str]:
    """run_id -> what is damaged, for every run of `sweep` whose files do not verify."""
    found = {run.run_id: problem(root, run.run_id) for run in sweep.runs}
    return {run_id: why for run_id, why in found.items() if why is not None}


def is_finished(root: Path, run_id: str) -> bool:
    return state(root, run_id) in FINISHED


def _stamp() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "time": time.time()}


def mark_running(root: Path, run: RunSpec) -> None:
    """Claim a run for training; `attempts` counts how many times one was started."""
    path = run_dir(root, run.run_id)
    atomic_write_bytes(path / CONFIG_FILE, yaml.safe_dump(run.config, sort_keys=False).encode())
    write_status(
        path / STATUS_FILE, {"state": "running", "attempts": _attempts(path) + 1, **_stamp()}
    )


def _attempts(path: Path) -> int:
    previous = read_status(path / STATUS_FILE) or {}
    return int(previous.get("attempts", 0))


def mark_failed(root: Path, run: RunSpec, error: str, state: str = "failed") -> None:
    """Record that a run stopped unfinished: `failed` (with the error) or `interrupted`."""
    path = run_dir(root, run.run_id)
    status = {"state": state, "error": error, "attempts": _attempts(path), **_stamp()}
    write_status(path / STATUS_FILE, status)


def finish(root: Path, run: RunSpec, frame: pd.DataFrame, result: Any = None, damaged=()) -> str:
    """Write a run's metrics, then its final status (with the env steps after which its agent
    was reset, if it was, the checkpoint it resumed from, and the damaged checkpoints passed
    over); returns "done" or "diverged". `result` is the group's `GroupResult`."""
    path = run_dir(root, run.run_id)
    write_metrics(frame, path / METRICS_FILE)
    diverged = frame[(frame.metric == "run/diverged") & (frame.value > 0)]
    checksum = file_sha256(path / METRICS_FILE)
    status: dict[str, Any] = {"state": "done", "metrics_sha256": checksum, **_stamp()}
    status["attempts"] = max(_attempts(path), 1)
    if result is not None and result.reset_env_steps:
        status["reset_env_steps"] = list(result.reset_env_steps)
    if result is not None and result.resumed_from_env_steps:
        status["resumed_from_env_steps"] = result.resumed_from_env_steps
    if any(run.run_id in note for note in damaged):
        status["damaged_checkpoints"] = [note for note in damaged if run.run_id in note]
    if len(diverged):
        # Chunk resolution: the first eval point after the non-finite update.
        status.update(state="diverged", diverged_at_env_steps=int(diverged.env_steps.min()))
    write_status(path / STATUS_FILE, status)
    return status["state"]


def delete_checkpoints(root: Path, run_id: str) -> None:
    shutil.rmtree(run_dir(root, run_id) / CHECKPOINT_DIR, ignore_errors=True)


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

    States: done, diverged, failed, running, interrupted (its process is gone), pending, corrupt
    (its files do not verify: the note names the file; the next `rlscale sweep` reruns it).
    """
    root = Path(root)
    if not (root / PLAN_FILE).is_file():
        raise ConfigError(f"{root}: not a sweep dir (no {PLAN_FILE}); run `rlscale sweep` first")
    plan = _read_plan(root)
    configs = pd.DataFrame.from_dict(plan, orient="index")
    varying = [c for c in configs.columns if configs[c].astype(str).nunique() > 1]
    rows = []
    for run_id, config in plan.items():
        status = read_status(run_dir(root, run_id) / STATUS_FILE) or {"state": "pending"}
        name = status["state"]
        if name == "running" and not _alive(status):
            name = "interrupted"
        extra = status.get("diverged_at_env_steps", status.get("error", ""))
        damaged = problem(root, run_id)
        if damaged is not None:
            name, extra = CORRUPT, damaged
        rows.append(
            {"run_id": run_id, "state": name, **{k: config[k] for k in varying}, "note": extra}
        )
    return pd.DataFrame(rows)
