"""Per-run logging sinks beside the parquet metrics: TensorBoard event files and W&B runs, one per
vmapped member of a group, fed on the host with each chunk's rows (`records.rows`) between
chunks, never from inside the compiled loop.

Each sink keeps the last env step it logged in `<its dir>/last_step`; rows at or before it are not
logged again. A resumed group recomputes (or restores) steps already logged, so its logs continue
where they stopped, without duplicate steps. W&B is an optional extra (`pip install
rlscale[wandb]`); TensorBoard needs only the `tensorboard` package (its event writer, no
TensorFlow).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from rlscale.config import check_loggers
from rlscale.training.group import Group, RunSpec

TENSORBOARD_DIR, WANDB_DIR = "tensorboard", "wandb"
LAST_STEP_FILE = "last_step"


def group_label(group: Group) -> str:
    """A short stable name of a compiled group (its env, σ and a hash of its static config)."""
    static = group.static
    digest = hashlib.sha256(json.dumps(static, sort_keys=True, default=str).encode()).hexdigest()
    return f"{static['env'].replace(':', '-')}-utd{static['utd']:g}-{digest[:6]}"


Writer = tuple[Callable[[int, dict[str, float]], None], Callable[[], None]]  # (emit, close)


class _Sink:
    """One run's log in one directory through a writer, skipping the steps it already logged."""

    def __init__(self, directory: Path, open_writer: Callable[[Path], Writer]):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        marker = directory / LAST_STEP_FILE
        self.last = int(marker.read_text()) if marker.is_file() else -1
        self.emit, self.close = open_writer(directory)

    def write(self, step: int, values: dict[str, float]) -> None:
        if step <= self.last:
            return
        self.emit(step, values)
        self.last = step
        (self.directory / LAST_STEP_FILE).write_text(str(step))


def _tensorboard(directory: Path) -> Writer:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(directory))

    def emit(step: int, values: dict[str, float]) -> None:
        scalars = [summary_pb2.Summary.Value(tag=k, simple_value=v) for k, v in values.items()]
        summary = summary_pb2.Summary(value=scalars)
        writer.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))
        writer.flush()

    return emit, writer.close


def _wandb(run: RunSpec, sweep: str, group: str) -> Callable[[Path], Writer]:
    import wandb

    def open_run(directory: Path) -> Writer:
        logged = wandb.init(
            dir=str(directory),
            id=f"{sweep}-{run.run_id}",
            name=f"{run.run_id} seed={run.config['seed']}",
            group=sweep,
            job_type=group,
            config=run.config,
            resume="allow",
            reinit="create_new",
            settings=wandb.Settings(silent=True, x_disable_stats=True),
        )
        return (lambda step, values: logged.log(values, step=step)), logged.finish

    return open_run


class RunLogs:
    """The sinks of the runs a driver trains: call it with each chunk's rows, then `close`."""

    def __init__(
        self,
        names: Iterable[str],
        runs: Iterable[RunSpec],
        directory: Callable[[str], Path],
        sweep: str,
        group: str,
    ):
        """names: `config.LOGGERS` to open (parquet is written elsewhere, always); directory:
        run_id -> the run's folder (sinks write under `tensorboard/`, `wandb/` there); sweep,
        group: the W&B group and job type of every run."""
        names = check_loggers(list(names), "loggers")
        self.sinks: dict[str, list[_Sink]] = {}
        for run in runs:
            folder = directory(run.run_id)
            sinks = []
            if "tensorboard" in names:
                sinks.append(_Sink(folder / TENSORBOARD_DIR, _tensorboard))
            if "wandb" in names:
                sinks.append(_Sink(folder / WANDB_DIR, _wandb(run, sweep, group)))
            self.sinks[run.run_id] = sinks

    def __call__(self, rows: list[dict[str, Any]]) -> None:
        points: dict[tuple[str, int], dict[str, float]] = {}
        for row in rows:
            if row["run_id"] in self.sinks:
                points.setdefault((row["run_id"], int(row["env_steps"])), {})[row["metric"]] = row[
                    "value"
                ]
        for (run_id, step), values in sorted(points.items(), key=lambda item: item[0][1]):
            for sink in self.sinks[run_id]:
                sink.write(step, values)

    def close(self) -> None:
        for sinks in self.sinks.values():
            for sink in sinks:
                sink.close()
