"""Long-format run metrics: the one on-disk contract between training, sweeps and analysis.

One row per run x eval point x metric. Every row also carries the run's identifying config columns
(`RUN_COLUMNS`), so a single parquet file is self-describing and files from many runs concatenate.
Depends only on pandas/pyarrow, so analysis never imports JAX.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

METRICS_FILE = "metrics.parquet"
STATUS_FILE = "status.json"
CONFIG_FILE = "config.yaml"

# Columns identifying a run; present in every row. Further config columns may follow.
RUN_COLUMNS = (
    "run_id",
    "agent",
    "env",
    "seed",
    "utd",
    "batch_size",
    "critic_width",
    "learning_rate",
)
# Columns identifying a measurement.
POINT_COLUMNS = ("env_steps", "updates", "wall_time", "metric", "value")

# Every metric name the trainers write (namespaced like brax/SimbaV2 logs), with its meaning. The
# drivers refuse to write a name that is not here (`check_metric_names`), so this is the complete
# list a reader of the store can rely on.
METRICS = {
    "eval/return": "mean undiscounted return of the deterministic policy over the eval episodes",
    "train/return": "mean return of the training episodes finished since the previous eval point",
    "train/episodes": "training episodes ended since the previous eval point, over all env copies",
    "critic/loss": "value loss of the last update before the eval point",
    "critic/td_error": "mean |Q(s,a) - y| over the last update's batch",
    "critic/q_mean": "mean Q(s,a) over the last update's batch",
    "critic/param_norm": "global L2 norm of the online critic parameters",
    "critic/reward_scale": "SimbaV2: the reward divisor (running return scale) of the last update",
    "actor/loss": "actor loss of the last update that updated the actor",
    "actor/entropy": "mean -log pi(a|s) over the last update's batch",
    "actor/temperature": "entropy temperature alpha",
    "optimism/loss": "BRO: loss of the optimistic actor's shift (negative upper bound plus KL)",
    "optimism/kl": "BRO: KL of the optimistic policy from the conservative one, per state",
    "optimism/beta": "BRO: the dual-learned optimism coefficient of the Q upper bound",
    "optimism/kl_weight": "BRO: the dual-learned weight of the KL penalty",
    "compute/flops_per_update": "XLA-counted FLOPs of one un-scanned gradient update",
    "compute/flops": "cumulative update FLOPs: updates x compute/flops_per_update",
    "model/critic_params": "parameters of all critics together (N in the scaling laws, as P2)",
    "run/resets": "full agent resets applied so far (BRO; the run's status lists their env steps)",
    "run/diverged": "1.0 once the run's loss or parameters went non-finite (frozen from then on)",
}


def check_metric_names(names: Any) -> None:
    """Refuse a metric name that is not documented in `METRICS` (a trainer's programming error)."""
    unknown = sorted(set(names) - set(METRICS))
    if unknown:
        raise ValueError(f"metrics {unknown} are not in rlscale.results.METRICS: add each there")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write-then-rename: a crash at any instant leaves either the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_metrics(frame: pd.DataFrame, path: Path) -> None:
    """Atomically write a long-format metrics frame to `path` (parquet)."""
    missing = [c for c in (*RUN_COLUMNS, *POINT_COLUMNS) if c not in frame.columns]
    if missing:
        raise ValueError(f"metrics frame lacks columns {missing}")
    atomic_write_bytes(Path(path), frame.to_parquet(index=False))


def write_status(path: Path, status: dict[str, Any]) -> None:
    atomic_write_bytes(Path(path), json.dumps(status, indent=1, sort_keys=True).encode())


CORRUPT = "corrupt"  # the state of a run whose files do not verify or do not parse


class CorruptRunWarning(UserWarning):
    """A run's files are damaged; readers skip the run and name the file."""


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_status(path: Path) -> dict[str, Any] | None:
    """A run's status record; None if it has none, state `corrupt` (with the reason) if the file
    does not parse."""
    try:
        status = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError) as error:
        return {"state": CORRUPT, "error": f"{Path(path).name} does not parse ({error})"}
    if not isinstance(status, dict) or "state" not in status:
        return {"state": CORRUPT, "error": f"{Path(path).name} holds no run state"}
    return status


def verify(run_dir: Path, status: dict[str, Any] | None) -> str | None:
    """Why a finished run's files cannot be trusted, or None: its status does not parse, its
    metrics file is missing, differs from the checksum recorded when it was written, or (where no
    checksum was recorded) does not parse as parquet."""
    if status is not None and status.get("state") == CORRUPT:
        return status["error"]
    metrics = Path(run_dir) / METRICS_FILE
    if not metrics.is_file():
        return f"{METRICS_FILE} is missing"
    recorded = (status or {}).get("metrics_sha256")
    if recorded is not None:
        return None if file_sha256(metrics) == recorded else f"{METRICS_FILE} fails its checksum"
    try:
        pd.read_parquet(metrics)
    except Exception as error:  # pyarrow raises several types for a damaged file
        return f"{METRICS_FILE} does not parse ({type(error).__name__})"
    return None


def read(path: str | Path) -> pd.DataFrame:
    """Every metrics file under `path` (a `rlscale train` dir or a sweep dir) as one tidy frame.

    A `status` column is added from each run's status record where one exists ("done" otherwise).
    A run whose files do not verify (`verify`) is skipped with a `CorruptRunWarning` naming it.

    Raises:
        FileNotFoundError: if `path` holds no metrics file.
    """
    root = Path(path)
    files = [root] if root.is_file() else sorted(root.rglob(METRICS_FILE))
    if not files:
        raise FileNotFoundError(
            f"no {METRICS_FILE} under {root}: is it an rlscale run or sweep dir?"
        )
    frames = []
    for file in files:
        status = read_status(file.parent / STATUS_FILE)
        problem = verify(file.parent, status)
        if problem is not None:
            warnings.warn(f"skipped {file.parent}: {problem}", CorruptRunWarning, stacklevel=2)
            continue
        frame = pd.read_parquet(file)
        frame["status"] = (status or {}).get("state", "done")
        frames.append(frame)
    if not frames:
        raise FileNotFoundError(f"every {METRICS_FILE} under {root} is damaged (see the warnings)")
    return pd.concat(frames, ignore_index=True)
