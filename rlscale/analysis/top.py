"""`auto` top thresholds (recipe `top`, Fu et al. 2025's BRO-DMC rule), resolved per env from the
selected runs before any threshold is used:

    J_max = floor(factor · q(final isotonic return) / floor_to) · floor_to

q is the `final_return_quantile` (numpy's default linear interpolation) over the env's runs (one
value per config: the last value of the isotonic fit of its seed-mean curve, after the reset filter
of `threshold.seed_mean`). An env whose threshold entry is `linspace: [low, auto, count]` gets
linspace(low, J_max, count).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from rlscale.analysis import threshold
from rlscale.analysis.errors import AnalysisError
from rlscale.analysis.recipe import Recipe


def final_returns(
    curves: Sequence[threshold.Curve], reset_every_updates: float | None
) -> pd.DataFrame:
    """One row per curve: env and the final value of its isotonic seed mean (NaN if empty)."""
    rows = []
    for curve in curves:
        steps, mean = threshold.seed_mean(curve, None, reset_every_updates)
        final = float(threshold.isotonic(mean)[-1]) if len(steps) else math.nan
        rows.append({**curve.config, "final_return": final})
    return pd.DataFrame(rows)


def resolve(curves: Sequence[threshold.Curve], recipe: Recipe) -> tuple[Recipe, dict]:
    """The recipe with every env's `auto` top resolved, and every env's thresholds for the report.

    Returns:
        (resolved recipe, {env: {"values": [...], "rule": ..., "auto": {...} or None}}); "auto"
        holds the quantile, its level, the runs it was taken over, factor, floor_to and J_max.

    Raises:
        AnalysisError: an env with an `auto` top has no finite final return, or its J_max is not
            above its `low` (the runs do not get far enough for that range).
    """
    rule = recipe.top
    envs = sorted({c.config["env"] for c in curves})
    auto_envs = [env for env in envs if recipe.threshold_spec(env).uses_auto]
    tops, found = {}, {}
    if auto_envs:
        finals = final_returns(curves, recipe.reset_every_updates)
        for env in auto_envs:
            values = finals.loc[finals["env"] == env, "final_return"].dropna().to_numpy(float)
            if not len(values):
                raise AnalysisError(f"thresholds of {env}: no run has a final return for `auto`")
            quantile = float(np.quantile(values, rule.final_return_quantile))
            top = math.floor(rule.factor * quantile / rule.floor_to) * rule.floor_to
            low = float(recipe.threshold_spec(env).linspace[0])
            if not top > low:
                raise AnalysisError(
                    f"thresholds of {env}: the auto top J_max = {top:g} (= floor({rule.factor:g} x "
                    f"q{rule.final_return_quantile:g} = {quantile:.4g} of {len(values)} final "
                    f"returns / {rule.floor_to:g}) x {rule.floor_to:g}) is not above low = "
                    f"{low:g}; lower `low` or the quantile"
                )
            tops[env] = top
            found[env] = {
                "quantile": quantile,
                "final_return_quantile": rule.final_return_quantile,
                "factor": rule.factor,
                "floor_to": rule.floor_to,
                "runs": len(values),
                "top": top,
            }
    resolved = recipe.with_tops(tops)
    report = {}
    for env in envs:
        spec = recipe.threshold_spec(env)
        kind = next(
            k for k in ("values", "linspace", "gap_logspace") if getattr(spec, k) is not None
        )
        report[env] = {
            "values": resolved.thresholds_for(env).tolist(),
            "rule": f"{kind} {list(getattr(spec, kind))}",
            "auto": found.get(env),
        }
    return resolved, report


def table(report: dict) -> pd.DataFrame:
    """The resolved thresholds as rows (env, threshold_index, threshold, auto top or NaN)."""
    rows = [
        {
            "env": env,
            "threshold_index": i,
            "threshold": value,
            "rule": entry["rule"],
            "auto_top": (entry["auto"] or {}).get("top", math.nan),
        }
        for env, entry in report.items()
        for i, value in enumerate(entry["values"])
    ]
    return pd.DataFrame(rows)
