"""The long CSV layout of published learning curves (SimbaV2's released `results/**/*.csv`).

One row per (exp_name, env_name, seed, metric, env_step, value); a file or a folder of such files.
Nothing but `exp_name` says how runs differ, so the recipe's `variables` map each exp_name to run
columns: full-string regexes whose named groups set columns (numbers parsed), and an explicit
table that wins over the patterns key by key. A group or table key that is not a run column joins
`variant` as `name=value`, so it still tells configs apart (SimbaV2's `_reset` runs). Env names
stay as written in the files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from rlscale.analysis.errors import RecipeError

SCHEMA = ("exp_name", "env_name", "seed", "metric", "env_step", "value")
NUMERIC_COLUMNS = ("utd", "batch_size", "learning_rate", "critic_width", "critic_params")
TEXT_COLUMNS = ("variant", "agent")


def has_schema(path: Path) -> bool:
    """Whether the CSV's header names every column of `SCHEMA`."""
    with path.open() as handle:
        header = handle.readline().strip().split(",")
    return set(SCHEMA) <= set(header)


def csv_files(root: Path) -> list[Path]:
    """The CSV files of the layout at `root` (itself if a file), in name order."""
    files = [root] if root.is_file() else sorted(root.rglob("*.csv"))
    return [file for file in files if has_schema(file)]


def read(
    root: Path,
    metric_aliases: Mapping[str, str],
    patterns: Sequence[str] = (),
    table: Mapping[str, Mapping[str, float | str]] | None = None,
    source: str = "the recipe",
) -> pd.DataFrame:
    """Every run at `root` as tidy rows (columns of `load.TIDY_COLUMNS`, any order).

    Args:
        root: a long-CSV file or a folder searched recursively for them.
        metric_aliases: file metric name -> rlscale name (`avg_return` -> `eval/return`).
        patterns, table: the recipe's `variables` (see the module docstring).
        source: the recipe file, named by errors.

    Raises:
        RecipeError: an exp_name that nothing maps (all of them listed), or a run column given a
            value that is not a number.
    """
    files = csv_files(root)
    if not files:
        return pd.DataFrame()
    raw = pd.concat(
        [pd.read_csv(f, usecols=list(SCHEMA), dtype={"exp_name": str}) for f in files],
        ignore_index=True,
    )
    names = sorted(raw["exp_name"].unique())
    columns = map_names(names, patterns, table or {}, source, root)
    config = pd.DataFrame([{"exp_name": n, **columns[n]} for n in names])
    frame = raw.merge(config, on="exp_name", how="left")
    return pd.DataFrame(
        {
            **{c: frame[c] for c in (*NUMERIC_COLUMNS, *TEXT_COLUMNS)},
            "env": frame["env_name"].astype(str),
            "seed": frame["seed"].astype(int),
            "env_steps": frame["env_step"].astype(float),
            "updates": np.nan,
            "metric": frame["metric"].map(lambda m: metric_aliases.get(m, m)),
            "value": frame["value"].astype(float),
            "status": "done",
        }
    ).dropna(subset=["value"])


def map_names(
    names: Sequence[str],
    patterns: Sequence[str],
    table: Mapping[str, Mapping[str, float | str]],
    source: str = "the recipe",
    root: Path | str = "the data",
) -> dict[str, dict]:
    """exp_name -> every run column (NaN / "" where nothing sets it).

    The first pattern that matches the whole name gives its named groups (a group that did not
    take part is unset); the table entry of the name then overrides key by key.
    """
    compiled = [re.compile(p) for p in patterns]
    mapped, unmapped = {}, []
    for name in names:
        found: dict[str, str | float] = {}
        match = next((m for p in compiled if (m := p.fullmatch(name))), None)
        if match is not None:
            found = {k: v for k, v in match.groupdict().items() if v is not None}
        if match is None and name not in table:
            unmapped.append(name)
            continue
        found |= dict(table.get(name, {}))
        mapped[name] = _columns(name, found, source)
    if unmapped:
        raise RecipeError(
            f"{source}: variables: {len(unmapped)} exp_name(s) in {root} match no pattern and "
            f"are not in the table: {unmapped}; patterns: {list(patterns)}, table keys: "
            f"{sorted(table)}"
        )
    return mapped


def _columns(name: str, found: Mapping[str, str | float], source: str) -> dict:
    columns: dict = dict.fromkeys(NUMERIC_COLUMNS, np.nan) | dict.fromkeys(TEXT_COLUMNS, "")
    extra = []
    for key, value in found.items():
        if key in NUMERIC_COLUMNS:
            try:
                columns[key] = float(value)
            except ValueError:
                raise RecipeError(
                    f"{source}: variables: exp_name {name!r} gives {key}={value!r}, not a "
                    "number; map it in `variables.table` instead"
                ) from None
        elif key in TEXT_COLUMNS:
            columns[key] = str(value)
        else:
            extra.append(f"{key}={value}")
    columns["variant"] = ",".join([columns["variant"], *extra] if columns["variant"] else extra)
    return columns
