"""`rlscale train`: one config, n seeds, one compiled program, results in a directory.

The same path as a sweep (runs -> group -> run_group), for a single static signature.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from rlscale.results import CONFIG_FILE, METRICS_FILE, atomic_write_bytes, write_metrics
from rlscale.training.group import group_runs, seed_runs
from rlscale.training.runner import GroupResult, run_group


def train(
    config: dict[str, Any], seeds: int, out: str | Path | None = None, progress: bool = True
) -> tuple[pd.DataFrame, GroupResult]:
    """Train `seeds` seeds of a resolved config (see `rlscale.config.resolve`) in one program.

    Args:
        config: resolved flat config. seeds: runs, seeds config['seed'] + 0..seeds-1.
        out: if given, writes `metrics.parquet` (long format) and `config.yaml` there.
    Returns:
        The long-format metrics of all seeds, and the group's timing and compute record.
    """
    (group,) = group_runs(seed_runs(config, seeds))
    result = run_group(group, progress=progress)
    frame = pd.concat(result.frames.values(), ignore_index=True)
    if out is not None:
        out = Path(out)
        resolved = {**config, "seeds": seeds, "run_ids": [run.run_id for run in group.runs]}
        if result.reset_env_steps:
            resolved["reset_env_steps"] = list(result.reset_env_steps)
        atomic_write_bytes(out / CONFIG_FILE, yaml.safe_dump(resolved, sort_keys=False).encode())
        write_metrics(frame, out / METRICS_FILE)
    return frame, result
