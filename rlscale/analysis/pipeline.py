"""The analysis: tidy runs + recipe -> crossing times, then P1 per critic size (`pipeline_p1`) and
P2 across sizes (`pipeline_p2`), assembled into one `types.Analysis`.

Each stage that cannot run on the data (one σ, one batch size, nothing reached, N unknown, ...)
records a message and the stages that do not depend on it still run, so the report always shows
what can be computed. Stages return their results, tables and messages; `run` alone combines them.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from rlscale.analysis import iqm, pipeline_p1, pipeline_p2, stages, threshold
from rlscale.analysis.recipe import Recipe
from rlscale.analysis.threads import one_blas_thread
from rlscale.analysis.types import Analysis, P2Result, Prepared, SizeResult, Staged


def run(tidy: pd.DataFrame, recipe: Recipe, source: str = "") -> Analysis:
    """The whole P1 (+ P2 when several N exist) analysis of a tidy frame (issue steps 2–9)."""
    with one_blas_thread():  # see threads.py
        return _run(tidy, recipe, source)


def _run(tidy: pd.DataFrame, recipe: Recipe, source: str) -> Analysis:
    prepared = stages.prepare(tidy, recipe)
    ready = prepared.result
    if ready.tidy is None:
        return _assemble(source, ready, [prepared])
    tidy, recipe = ready.tidy, ready.recipe
    boot = recipe.bootstrap
    crossings = threshold.crossing_frame(
        ready.curves, recipe.thresholds_for, boot.samples, boot.seed, recipe.reset_every_updates
    )
    table = threshold.summarize(crossings, boot.ci)
    reached = Staged(None, (("data_to_threshold", table),), _unreached(crossings))
    sizes = []
    size_keys, tidy_keys = _size_key(crossings), _size_key(tidy)
    for key, rows in crossings.groupby(size_keys, dropna=False):
        size_tidy = tidy[(tidy_keys == key) | (tidy_keys.isna() & np.isnan(key))]
        params = rows["critic_params"].dropna()
        median = float(params.median()) if len(params) else np.nan
        sizes.append(pipeline_p1.run_size(size_tidy, rows, median, recipe))
    p2 = pipeline_p2.run(crossings, recipe) if pipeline_p2.enabled(crossings, recipe) else None
    summary = iqm.final_return_iqm(ready.curves, recipe.report.iqm_bootstrap_samples, boot.ci)
    parts = [
        prepared,
        reached,
        *sizes,
        p2 or Staged(None),
        Staged(None, (("iqm_final_return", summary),)),
    ]
    return _assemble(
        source, ready, parts, tuple(s.result for s in sizes), p2.result if p2 else None
    )


def _assemble(
    source: str,
    ready: Prepared,
    parts: list[Staged],
    sizes: tuple[SizeResult, ...] = (),
    p2: P2Result | None = None,
) -> Analysis:
    """The analysis of `ready` and the results; the parts' tables and messages in stage order."""
    return Analysis(
        recipe=ready.recipe,
        source=source,
        curves=ready.curves,
        tables=_merge(pair for part in parts for pair in part.tables),
        sizes=sizes,
        p2=p2,
        thresholds=ready.thresholds,
        messages=tuple(message for part in parts for message in part.messages),
        meta=ready.meta,
    )


def _merge(tables: Iterable[tuple[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """One frame per name: a name's frames concatenated in order, empty ones left out."""
    merged: dict[str, pd.DataFrame] = {}
    for name, table in tables:
        if len(table):
            previous = merged.get(name)
            merged[name] = table if previous is None else pd.concat([previous, table])
    return merged


def _size_key(frame: pd.DataFrame) -> pd.Series:
    """The critic size a P1 fit holds fixed: the width where known, else N.

    As in P1, one size spans envs whose N differ slightly with their observation sizes (BRO "m"
    is N = 4.92e6 for every DMC env); the compute then uses the median N of the group.
    """
    return frame["critic_width"].where(frame["critic_width"].notna(), frame["critic_params"])


def _unreached(crossings: pd.DataFrame) -> tuple[str, ...]:
    point = crossings[crossings["sample"] == threshold.POINT_ESTIMATE]
    reached = point.groupby(["env", "threshold_index", "threshold"])["time"].apply(
        lambda t: np.isfinite(t).any()
    )
    return tuple(
        f"threshold J={value:.4g} ({env}) was never reached by any config; it is left "
        "out of every fit (lower it or train longer)"
        for (env, _, value), ok in reached.items()
        if not ok
    )
