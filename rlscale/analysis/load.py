"""Load learning curves from any supported layout into one tidy frame (P1/P2 pipeline step 1).

Four layouts: rlscale sweep/run dirs (`rlscale.results`), the published value-scaling zips
(`{name}/w{width}[p{params}]/utd_{σ}/{env}/{metric}/bs_{B}[_lr_{η}…].npy`, Fu et al. 2025), the
BRO UTD x size ablation (`ablations_rr/rr{σ}_{size}/{task}.npy`, Nauman et al. 2024) and long CSVs
of published curves (`long_csv.py`, SimbaV2's released results). Whatever the source, the result
has the columns of `TIDY_COLUMNS`: one row per config x seed x eval x metric.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from rlscale import results
from rlscale.analysis import long_csv

# A config is everything but the seed; `variant` holds any other setting that differs between runs.
CONFIG_COLUMNS = (
    "env",
    "utd",
    "batch_size",
    "learning_rate",
    "critic_width",
    "critic_params",
    "variant",
)
TIDY_COLUMNS = (
    *CONFIG_COLUMNS,
    "agent",
    "seed",
    "env_steps",
    "updates",
    "metric",
    "value",
    "status",
)
RETURN_METRIC = "eval/return"
RESETS_METRIC = "run/resets"  # resets applied so far at each eval point (rlscale runs)
LAYOUTS = ("auto", "rlscale", "value-scaling", "bro-ablation", "long-csv")

# The published zips name metrics by their training-code keys; map them onto rlscale's names.
METRIC_ALIASES = {
    "return": RETURN_METRIC,
    "avg_return": RETURN_METRIC,
    "critic_loss": "critic/loss",
    "validation_critic_loss": "critic/validation_loss",
    "val_critic_loss": "critic/validation_loss",
    "separate_critic_loss": "critic/separate_loss",
}
# BRO ablation grid (Fu et al. 2025 `load_old_bro_data`): fixed B and η, critic sizes by name,
# one eval every 25k env steps; the arrays carry no step column.
BRO_SIZES = {"xs": 0.55e6, "s": 1.05e6, "sm": 2.83e6, "m": 4.92e6, "l": 26.31e6}
BRO_BATCH_SIZE = 1024
BRO_LEARNING_RATE = 3e-4
BRO_EVAL_EVERY = 25_000

_RUN_NON_CONFIG = {
    "run_id",
    "seed",
    "env_steps",
    "updates",
    "wall_time",
    "metric",
    "value",
    "status",
}
_VALUE_SCALING_FILE = re.compile(r"bs_(?P<bs>\d+)(?:_lr_(?P<lr>[0-9.eE+-]+?))?(?:_(?P<rest>.*))?$")


def load(
    path: str | Path, layout: str = "auto", variables: Any = None, source: str = "the recipe"
) -> pd.DataFrame:
    """Read every run under `path` into the tidy frame.

    Args:
        path: an rlscale run/sweep dir, a value-scaling or BRO-ablation zip or dir, or long CSVs.
        layout: one of `LAYOUTS`; "auto" picks by file names (and CSV headers).
        variables, source: the recipe's `variables` (how long-CSV exp_names map to run columns)
            and its file, named by errors; other layouts ignore them.

    Returns:
        DataFrame with `TIDY_COLUMNS`; `value` is the raw metric (returns not yet normalised).

    Raises:
        FileNotFoundError: `path` does not exist or holds no runs of the layout.
        ValueError: unknown layout (RecipeError: long-CSV exp_names `variables` does not map).
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"{root} does not exist")
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; valid: {list(LAYOUTS)}")
    if layout == "auto":
        layout = detect_layout(root)
    if layout == "long-csv":
        patterns, table = (variables.patterns, variables.table) if variables else ((), {})
        frame = long_csv.read(root, METRIC_ALIASES, patterns, table, source)
    else:
        loader = {
            "rlscale": _load_rlscale,
            "value-scaling": _load_value_scaling,
            "bro-ablation": _load_bro_ablation,
        }[layout]
        frame = loader(root)
    if frame.empty:
        raise FileNotFoundError(f"no runs of the {layout!r} layout under {root}")
    return frame[list(TIDY_COLUMNS)]


def detect_layout(root: Path) -> str:
    """Guess the layout of `root` from its file names (see `LAYOUTS`)."""
    names = [name for name, _ in _iter_files(root, (".npy", ".parquet"), read=False)]
    if any(name.endswith(results.METRICS_FILE) for name in names):
        return "rlscale"
    if any(re.search(r"(^|/)utd_[0-9.]+/", name) for name in names):
        return "value-scaling"
    if any(re.search(r"(^|/)rr[0-9.]+_[a-z]+/", name) for name in names):
        return "bro-ablation"
    if not (root.is_file() and zipfile.is_zipfile(root)) and long_csv.csv_files(root):
        return "long-csv"
    raise FileNotFoundError(
        f"no runs under {root}: expected {results.METRICS_FILE} files (rlscale), "
        "utd_{σ}/{env}/{metric}/bs_*.npy (value-scaling), rr{σ}_{size}/{task}.npy (bro-ablation) "
        f"or CSVs with columns {list(long_csv.SCHEMA)} (long-csv)"
    )


def normalize_returns(frame: pd.DataFrame, bounds: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """Map each env's returns affinely from (low, high) to (0, 1000) (P1 §4.1 normalisation).

    Args:
        frame: tidy frame.
        bounds: env -> (return mapped to 0, return mapped to 1000); envs not listed are unchanged.

    Returns:
        A copy of `frame` with the `eval/return` and `train/return` values rescaled.
    """
    frame = frame.copy()
    is_return = frame["metric"].isin([RETURN_METRIC, "train/return"])
    for env, (low, high) in bounds.items():
        rows = is_return & (frame["env"] == env)
        frame.loc[rows, "value"] = 1000.0 * (frame.loc[rows, "value"] - low) / (high - low)
    return frame


def apply_widths(frame: pd.DataFrame, params_by_width: dict[float, float]) -> pd.DataFrame:
    """Fill unknown critic sizes N from a width -> N map (layouts that record only the width)."""
    if not params_by_width:
        return frame
    mapped = frame["critic_width"].map(params_by_width)
    return frame.assign(critic_params=frame["critic_params"].fillna(mapped))


def _iter_files(
    root: Path, suffixes: tuple[str, ...], read: bool = True
) -> Iterator[tuple[str, bytes | None]]:
    """(relative name, bytes) of every file with a given suffix in a zip or a directory tree."""
    if root.is_file() and zipfile.is_zipfile(root):
        with zipfile.ZipFile(root) as archive:
            for name in sorted(archive.namelist()):
                if name.endswith(suffixes) and "__MACOSX" not in name:
                    yield name, archive.read(name) if read else None
        return
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for file in files:
        if file.name.endswith(suffixes):
            yield file.relative_to(root).as_posix(), file.read_bytes() if read else None


def _melt(array: np.ndarray, steps: np.ndarray, config: dict) -> pd.DataFrame:
    """Long rows of a (n_evals, n_seeds) array; NaN entries are runs with no value there."""
    n_evals, n_seeds = array.shape
    frame = pd.DataFrame(
        {
            "seed": np.tile(np.arange(n_seeds), n_evals),
            "env_steps": np.repeat(steps.astype(float), n_seeds),
            "value": array.reshape(-1).astype(float),
        }
    )
    frame = frame[np.isfinite(frame["value"])]
    return frame.assign(**config, updates=np.nan, status="done")


def _load_value_scaling(root: Path) -> pd.DataFrame:
    frames = []
    for name, data in _iter_files(root, (".npy",)):
        parts = name.split("/")
        utd_index = next((i for i, p in enumerate(parts) if re.fullmatch(r"utd_[0-9.]+", p)), None)
        if utd_index is None or utd_index < 1 or len(parts) < utd_index + 4:
            continue
        size = re.fullmatch(r"w(\d+)(?:p(\d+))?", parts[utd_index - 1])
        file = _VALUE_SCALING_FILE.fullmatch(parts[-1][: -len(".npy")])
        if size is None or file is None:
            continue
        metric = parts[utd_index + 2]
        array = np.load(io.BytesIO(data))
        config = {
            "env": parts[utd_index + 1],
            "utd": float(parts[utd_index][len("utd_") :]),
            "batch_size": float(file["bs"]),
            "learning_rate": float(file["lr"]) if file["lr"] else np.nan,
            "critic_width": float(size[1]),
            "critic_params": float(size[2] or "nan"),
            "variant": file["rest"] or "",
            "agent": "",
            "metric": METRIC_ALIASES.get(metric, metric),
        }
        frames.append(_melt(array[:, 1:], array[:, 0], config))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _load_bro_ablation(root: Path) -> pd.DataFrame:
    frames = []
    for name, data in _iter_files(root, (".npy",)):
        parts = name.split("/")
        match = re.fullmatch(r"rr([0-9.]+)_([a-z]+)", parts[-2]) if len(parts) >= 2 else None
        if match is None or match[2] not in BRO_SIZES:
            continue
        array = np.load(io.BytesIO(data))
        steps = BRO_EVAL_EVERY * np.arange(1, array.shape[0] + 1)
        config = {
            "env": parts[-1][: -len(".npy")],
            "utd": float(match[1]),
            "batch_size": float(BRO_BATCH_SIZE),
            "learning_rate": BRO_LEARNING_RATE,
            "critic_width": np.nan,
            "critic_params": BRO_SIZES[match[2]],
            "variant": "",
            "agent": "bro",
            "metric": RETURN_METRIC,
        }
        frames.append(_melt(array, steps, config))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _load_rlscale(root: Path) -> pd.DataFrame:
    frame = _with_reset_counts(results.read(root), root)
    # N is logged as a metric; broadcast it onto every row of its run.
    params = frame[frame["metric"] == "model/critic_params"].groupby("run_id")["value"].max()
    frame["critic_params"] = frame["run_id"].map(params).astype(float)
    extra = [
        c
        for c in frame.columns
        if c not in _RUN_NON_CONFIG and c not in TIDY_COLUMNS and frame[c].nunique() > 1
    ]
    frame["variant"] = (
        frame[extra]
        .astype(str)
        .apply(lambda row: ",".join(f"{k}={v}" for k, v in row.items()), axis=1)
        if extra
        else ""
    )
    for column in ("utd", "batch_size", "learning_rate", "critic_width", "env_steps", "updates"):
        frame[column] = frame[column].astype(float)
    return frame


def _with_reset_counts(frame: pd.DataFrame, root: Path) -> pd.DataFrame:
    """Every run with a `run/resets` series, so the analysis uses the resets each run recorded.

    Runs that logged the metric keep it. Otherwise the count at each eval point is the number of
    the run's `reset_env_steps` (status.json, or config.yaml of a `rlscale train` dir) at or before
    it, and 0 when neither is there: the trainers record both whenever the agent resets.
    """
    logged = set(frame.loc[frame["metric"] == RESETS_METRIC, "run_id"])
    steps_by_run = _recorded_reset_steps(root)
    points = frame[~frame["run_id"].isin(logged)].drop_duplicates(["run_id", "env_steps"])
    if points.empty:
        return frame
    counts = [
        float(np.sum(np.asarray(steps_by_run.get(run_id, []), float) <= step))
        for run_id, step in zip(points["run_id"], points["env_steps"], strict=True)
    ]
    added = points.assign(metric=RESETS_METRIC, value=counts)
    return pd.concat([frame, added], ignore_index=True)


def _recorded_reset_steps(root: Path) -> dict[str, list[float]]:
    """run_id -> the env steps of its resets, from each metrics file's status.json/config.yaml."""
    files = [root] if root.is_file() else sorted(root.rglob(results.METRICS_FILE))
    found = {}
    for file in files:
        status = results.read_status(file.parent / results.STATUS_FILE) or {}
        steps = status.get("reset_env_steps")
        config = file.parent / results.CONFIG_FILE
        if steps is None and config.is_file():
            steps = (yaml.safe_load(config.read_text()) or {}).get("reset_env_steps")
        if steps:
            for run_id in pd.read_parquet(file, columns=["run_id"])["run_id"].unique():
                found[str(run_id)] = list(steps)
    return found
