"""Run selection (recipe `select`): envs, exclude_envs and a `where` query over run-level columns,
applied before anything else; mistakes are one-line errors naming the file, key and valid names."""

import itertools

import numpy as np
import pandas as pd
import pytest

from rlscale.analysis import load, pipeline, select, synthetic
from rlscale.analysis.errors import RecipeError
from rlscale.analysis.recipe import Recipe, load_recipe
from rlscale.cli import main


def _tidy() -> pd.DataFrame:
    """2 envs x 2 σ x 2 N x 2 seeds, each run with 3 evals of 2 metrics."""
    rows = []
    grid = itertools.product(["a", "b"], [1.0, 2.0], [5e5, 1e6], [0, 1], [1e4, 2e4, 3e4])
    for env, utd, params, seed, step in grid:
        for metric in ("eval/return", "critic/loss"):
            rows.append(
                {
                    "env": env,
                    "utd": utd,
                    "batch_size": 256.0,
                    "learning_rate": 3e-4,
                    "critic_width": np.nan,
                    "critic_params": params,
                    "variant": "",
                    "agent": "bro",
                    "seed": seed,
                    "env_steps": step,
                    "updates": np.nan,
                    "metric": metric,
                    # the value is 0 at the first eval: a row-level `where` would cut curves
                    "value": 0.0 if step == 1e4 else 500.0,
                    "status": "done",
                }
            )
    return pd.DataFrame(rows)[list(load.TIDY_COLUMNS)]


def _recipe(tmp_path, text: str) -> Recipe:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return load_recipe(path)


def test_envs_and_exclude_envs_keep_and_drop_whole_envs(tmp_path):
    """Catches: `exclude_envs` ignored, or `envs` treated as a drop list."""
    kept, info = select.apply(
        _tidy(), _recipe(tmp_path, "select: {envs: [a, b], exclude_envs: [b]}")
    )
    assert set(kept["env"]) == {"a"} and len(kept) == len(_tidy()) / 2
    assert (info["runs_before"], info["runs_after"]) == (16, 8)
    only, _ = select.apply(_tidy(), _recipe(tmp_path, "select: {envs: [b]}"))
    assert set(only["env"]) == {"b"}


def test_where_selects_whole_runs_on_run_level_columns(tmp_path):
    """Catches: `where` combined with `or` instead of `and`, or a selection that keeps only some
    rows of a run (every eval point and metric of a selected run must stay)."""
    recipe = _recipe(tmp_path, 'select: {where: "critic_params > 6e5 and utd > 1"}')
    kept, info = select.apply(_tidy(), recipe)
    assert set(zip(kept["utd"], kept["critic_params"], strict=True)) == {(2.0, 1e6)}
    assert info["runs_after"] == 4  # 2 envs x 2 seeds
    assert kept.groupby(["env", "seed"]).size().tolist() == [6] * 4  # 3 evals x 2 metrics each


def test_where_on_a_metric_row_column_is_an_error_naming_file_key_and_columns(tmp_path):
    """Catches: `where` evaluated on the metric rows (then `value > 0` would silently cut off each
    run's first eval instead of being refused)."""
    recipe = _recipe(tmp_path, 'select: {where: "value > 0 and utd > 1"}')
    with pytest.raises(RecipeError) as error:
        select.apply(_tidy(), recipe)
    message = str(error.value)
    assert message.startswith(
        f"{tmp_path / 'recipe.yaml'}: select.where: unknown column(s) ['value']"
    )
    assert "'critic_params'" in message and "'variant'" in message and "env_steps" not in message


def test_unknown_env_is_an_error_naming_file_key_and_valid_envs(tmp_path):
    """Catches: an unknown env silently selecting nothing (or everything)."""
    for key in ("envs", "exclude_envs"):
        recipe = _recipe(tmp_path, f"select: {{{key}: [a, pendulum-swingup]}}")
        with pytest.raises(
            RecipeError,
            match=rf"recipe.yaml: select.{key}: unknown envs "
            r"\['pendulum-swingup'\]; valid envs: \['a', 'b'\]",
        ):
            select.apply(_tidy(), recipe)


def test_a_query_that_is_not_a_condition_or_does_not_parse_is_a_recipe_error(tmp_path):
    """Catches: a non-boolean `where` ("utd * 2") used as a mask, or a syntax error surfacing as a
    pandas traceback at analysis time instead of at recipe load."""
    with pytest.raises(RecipeError, match="is not a condition"):
        select.apply(_tidy(), _recipe(tmp_path, 'select: {where: "utd * 2"}'))
    with pytest.raises(RecipeError, match=r"recipe.yaml: select.where: .*not a valid query"):
        _recipe(tmp_path, 'select: {where: "utd > > 1"}')


def test_selection_comes_before_thresholds_and_fits(tmp_path):
    """Catches: the selection applied after the crossing times (or not at all): the excluded σ = 4
    and the excluded env would still appear in the tables."""
    law = synthetic.SyntheticLaw(env_scale={"jax:pendulum": 1.0, "jax:other": 1.5})
    runs = synthetic.SyntheticRuns(seeds=2, steps=20_000, eval_every=1000)
    tidy = load.load(
        synthetic.write_sweep(
            synthetic.sweep_frame(law, [1.0, 2.0, 4.0], [256.0], [1e-3], runs), tmp_path
        )
    )
    recipe = Recipe.model_validate(
        {
            "normalize": {e: {"min": -1500.0, "max": 0.0} for e in law.env_scale},
            "thresholds": {"values": [500.0, 800.0]},
            "select": {"exclude_envs": ["jax:other"], "where": "utd < 3"},
            "bootstrap": {"samples": 0},
            "p2": {"enabled": False},
            "report": {"iqm_bootstrap_samples": 10},
        }
    )
    analysis = pipeline.run(tidy, recipe)
    table = analysis.tables["data_to_threshold"]
    assert set(table["utd"]) == {1.0, 2.0} and set(table["env"]) == {"jax:pendulum"}
    assert analysis.meta["utds"] == [1.0, 2.0] and analysis.meta["select"]["runs_after"] == 4


def test_cli_prints_one_line_and_exits_2_on_a_bad_selection(tmp_path, capsys):
    """Catches: the RecipeError caught as an analysis message (exit 0) or shown as a traceback."""
    runs = synthetic.SyntheticRuns(seeds=1, steps=3000)
    frame = synthetic.sweep_frame(synthetic.SyntheticLaw(), [1.0], [128.0], [1e-3], runs)
    sweep = synthetic.write_sweep(frame, tmp_path / "sweep")
    path = tmp_path / "bad.yaml"
    path.write_text("select: {envs: [cheetah-run]}\n")
    code = main(["analyze", str(sweep), "--recipe", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"{path}: select.envs: unknown envs ['cheetah-run']; valid envs: ['jax:pendulum']" in err
