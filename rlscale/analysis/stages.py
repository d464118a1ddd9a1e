"""The pipeline's first stages, before any crossing time: run selection (recipe `select`), return
normalisation, grouping into curves, and the thresholds with their `auto` tops resolved.

The order is the recipe's promise: the selection comes before anything else, so thresholds,
medians and fits only ever see the selected runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rlscale.analysis import select, threshold, top
from rlscale.analysis.errors import AnalysisError, attempt
from rlscale.analysis.load import apply_widths, normalize_returns
from rlscale.analysis.recipe import Recipe
from rlscale.analysis.types import Prepared, Staged


def prepare(tidy: pd.DataFrame, recipe: Recipe) -> Staged[Prepared]:
    """The selected, normalised runs as curves, with the thresholds resolved and tabled.

    A step that cannot run on the data stops here with its message; `Prepared.tidy` is then None.

    Raises:
        RecipeError: a bad `select` (the user's mistake, not the data's: it is not recorded).
    """
    chosen, messages = attempt(
        "select", select.apply, apply_widths(tidy, recipe.critic_params_by_width), recipe
    )
    if chosen is None:
        return Staged(Prepared(recipe), messages=messages)
    tidy, selection = chosen
    tidy = normalize_returns(tidy, recipe.bounds())
    agents = [a for a in tidy["agent"].dropna().unique() if a]
    meta = {
        "select": selection,
        "agent": agents[0] if len(agents) == 1 else recipe.agent,
        "envs": sorted(tidy["env"].unique()),
        "utds": sorted(float(u) for u in tidy["utd"].unique()),
    }
    curves, messages = attempt("load", make_curves, tidy, recipe)
    if not curves:
        return Staged(Prepared(recipe, meta), messages=messages)
    resolved, messages = attempt("thresholds", top.resolve, curves, recipe)
    if resolved is None:
        return Staged(Prepared(recipe, meta, tuple(curves)), messages=messages)
    recipe, thresholds = resolved
    prepared = Prepared(recipe, meta, tuple(curves), thresholds, tidy)
    return Staged(prepared, (("thresholds", top.table(thresholds)),))


def make_curves(tidy: pd.DataFrame, recipe: Recipe) -> list[threshold.Curve]:
    """Group normalised runs into curves; AnalysisError if the metric is missing or unscaled."""
    present = sorted(tidy["metric"].unique())
    if recipe.metric not in present:
        raise AnalysisError(f"metric {recipe.metric!r} is not in the runs; present: {present}")
    known = set(recipe.normalize)
    unknown = sorted(set(tidy["env"]) - known)
    counts = {env: recipe.threshold_spec(env).count for env in tidy["env"].unique()}
    if len(set(counts.values())) > 1:
        raise AnalysisError(
            f"envs have different numbers of thresholds {counts}; the env "
            "average of D_J(σ) pairs thresholds by index, so use one count"
        )
    curves = threshold.make_curves(tidy, recipe.metric)
    unscaled = [c.returns for c in curves if c.config["env"] in unknown]
    if unscaled and recipe.metric == "eval/return":
        low = min(np.nanmin(r) for r in unscaled)
        high = max(np.nanmax(r) for r in unscaled)
        # noise may overshoot a bit; anything far outside 0–1000 is an unnormalised scale
        if low < -100.0 or high > 1500.0:
            raise AnalysisError(
                f"returns of {unknown} span [{low:.4g}, {high:.4g}], not 0–1000, and the recipe "
                "has no `normalize` entry for them; add {min: ..., max: ...} per env"
            )
    return curves
