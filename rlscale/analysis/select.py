"""Run selection (recipe `select`), applied to the tidy frame before anything else: thresholds,
medians and fits only ever see the selected runs.

`envs` keeps only the listed envs, `exclude_envs` drops some, and `where` is a pandas query over
run-level columns that selects whole runs (every eval point and metric of a run stays or goes
together): it is evaluated on one row per run, never on metric rows, so a condition on `value` or
`env_steps` is an unknown column, not a filter that would cut learning curves short. Unknown
columns or envs are `RecipeError`s naming the recipe file, the key and the valid names.
"""

from __future__ import annotations

import ast

import pandas as pd

from rlscale.analysis.errors import AnalysisError, RecipeError
from rlscale.analysis.load import CONFIG_COLUMNS
from rlscale.analysis.recipe import Recipe

# Columns constant over a run: `where` may use these and nothing else.
RUN_LEVEL = (*CONFIG_COLUMNS, "agent", "seed", "status")
# Names a query may use besides columns (constants of the expression language).
_CONSTANTS = {"True", "False", "None", "inf", "nan"}


def apply(tidy: pd.DataFrame, recipe: Recipe) -> tuple[pd.DataFrame, dict]:
    """The rows of the selected runs, and what was selected (for the report).

    Args:
        tidy: frame from `load.load` (critic sizes filled by `apply_widths` if the recipe maps
            widths, so `critic_params` can be selected on).
        recipe: its `select` entry and `source` (the file named by errors).

    Returns:
        (the selected rows, {runs_before, runs_after, envs, where}).

    Raises:
        RecipeError: an env in `select.envs` / `select.exclude_envs` that is not in the runs, a
            `where` naming a column that is not run-level, or one that cannot be evaluated.
        AnalysisError: nothing is left after the selection.
    """
    config, source = recipe.select, recipe.source
    present = sorted(tidy["env"].unique())
    for key, names in (
        ("select.envs", config.envs or []),
        ("select.exclude_envs", config.exclude_envs),
    ):
        unknown = sorted(set(names) - set(present))
        if unknown:
            raise RecipeError(f"{source}: {key}: unknown envs {unknown}; valid envs: {present}")
    runs_key = tidy.groupby(list(RUN_LEVEL), dropna=False, sort=False).ngroup()
    before = int(runs_key.nunique())
    keep = pd.Series(True, index=tidy.index)
    if config.envs is not None:
        keep &= tidy["env"].isin(config.envs)
    keep &= ~tidy["env"].isin(config.exclude_envs)
    if config.where is not None:
        runs = tidy[list(RUN_LEVEL)].assign(_run=runs_key).drop_duplicates("_run")
        chosen = _evaluate(runs.set_index("_run"), config.where, source)
        keep &= runs_key.map(chosen).to_numpy(bool)
    selected = tidy[keep.to_numpy(bool)]
    info = {
        "runs_before": before,
        "runs_after": int(runs_key[keep.to_numpy(bool)].nunique()),
        "envs": sorted(selected["env"].unique()),
        "where": config.where,
    }
    if selected.empty:
        raise AnalysisError(
            f"select kept none of the {before} runs (envs={config.envs}, "
            f"exclude_envs={config.exclude_envs}, where={config.where!r})"
        )
    return selected, info


def _evaluate(runs: pd.DataFrame, where: str, source: str) -> pd.Series:
    """`where` on one row per run: a boolean per run, or a RecipeError saying what is wrong."""
    valid = sorted(RUN_LEVEL)
    unknown = sorted(_names(where) - set(valid) - _CONSTANTS)
    if unknown:
        raise RecipeError(
            f"{source}: select.where: unknown column(s) {unknown} in {where!r}; valid columns "
            f"(run-level only, never metric rows): {valid}"
        )
    try:
        result = runs.eval(where, engine="python")
    except Exception as error:  # pandas raises many types; the user gets one line
        raise RecipeError(
            f"{source}: select.where: cannot evaluate {where!r}: {type(error).__name__}: "
            f"{error}; valid columns: {valid}"
        ) from None
    if not isinstance(result, pd.Series) or result.dtype != bool:
        raise RecipeError(
            f"{source}: select.where: {where!r} is not a condition (true or false per run); "
            f'e.g. "critic_params > 6e5 and utd > 1"; valid columns: {valid}'
        )
    return result


def _names(where: str) -> set[str]:
    """Column names a query refers to (names that are not called as functions)."""
    try:
        tree = ast.parse(where.replace("`", ""), mode="eval")
    except SyntaxError:
        return set()  # backticks, `@local` and the like: pandas itself judges these
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called}
